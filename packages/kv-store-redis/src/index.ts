// The Redis block store is exported here as it lands.
export {};
