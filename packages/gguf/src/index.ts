// The GGUF reader, writer and tokenizers are exported here as they land.
export {};
