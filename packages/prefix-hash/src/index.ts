export { blockHash, hashChain } from "./chain.ts";
