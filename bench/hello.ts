// The smallest long-running Bun program: the RSS floor any Bun-compiled PID 1 starts from.
console.log("hello");
setInterval(() => {}, 1 << 30);
