// MikroORM CLI config (`npx mikro-orm …`): the same options the server uses, on DATABASE_URL.
import 'reflect-metadata';
import { ormOptions } from './src/database/orm-options';
import { ENTITIES } from './src/modules/entities';

export default ormOptions({
  entities: ENTITIES,
  clientUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
});
