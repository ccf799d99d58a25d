/** The PostgreSQL that the tests use (`ZPATTERNS_PG_URL`); see `@zpatterns/testkit`. */
export { postgresUrl } from '@zpatterns/testkit';
