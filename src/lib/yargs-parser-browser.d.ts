// Types for yargs-parser's dependency-free entry (same parser, see args.ts).
declare module "yargs-parser/browser" {
  import type yargsParser from "yargs-parser";
  const parser: typeof yargsParser;
  export default parser;
}
