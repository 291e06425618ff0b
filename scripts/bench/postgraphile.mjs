// PostGraphile 5 for the benchmark: the Amber preset over the bench
// database's `public` schema plus `postgraphile_bench` (see sql/setup.sql),
// production settings (no GraphiQL, no watch, no explain). The driver copies
// this file next to the npm install (setup-postgraphile.sh) and runs it with
// Node 22 and NODE_ENV=production.
//
//   DATABASE_URL=postgres://... PORT=18200 node postgraphile.mjs [--print-schema]
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { printSchema } from "postgraphile/graphql";

const port = Number(process.env.PORT ?? 18200);
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public", "postgraphile_bench"],
      // The same pool size as Hearth's default DATABASE_MAX_CONNECTIONS.
      poolConfig: { max: Number(process.env.PG_POOL_MAX ?? 10) },
    }),
  ],
  grafserv: { port, graphiql: false, watch: false, graphqlOverGET: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
if (process.argv.includes("--print-schema")) {
  const { schema } = await pgl.getSchemaResult();
  console.log(printSchema(schema));
  await pgl.release();
  process.exit(0);
}
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
server.listen(port, "127.0.0.1", () => console.error(`postgraphile listening on ${port}`));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close();
    pgl.release().finally(() => process.exit(0));
  });
}
