// Types for yargs-parser's dependency-free entry (the reference parser of args.test.ts).
declare module "yargs-parser/browser" {
  import type yargsParser from "yargs-parser";
  const parser: typeof yargsParser;
  export default parser;
}
