// Benchmarks for this package grow with its issue; see the package README.
console.log("no benchmarks yet");
