// Loaded into LocalStack's Kinesis engine (kinesis-local, a node program) through NODE_OPTIONS=--require.
// kinesis-local 0.4.13 listens on 0.0.0.0 (hard-coded) on two ports. A listen() on the wildcard address, or with
// no host, becomes a listen() on PIPELINE_BIND_HOST (default 127.0.0.1). See sitecustomize.py next to this file.
"use strict";
const net = require("net");

const host = process.env.PIPELINE_BIND_HOST || "127.0.0.1";
const wildcard = (h) => h === undefined || h === null || h === "" || h === "0.0.0.0" || h === "::";
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (args.length === 0 || typeof first === "function") {
    args.unshift({ port: 0, host });
  } else if (typeof first === "object" && first !== null && first.path === undefined && first.fd === undefined
             && first.handle === undefined && first._handle === undefined) {
    if (wildcard(first.host)) args[0] = { ...first, host };
  } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    if (typeof args[1] === "string") {
      if (wildcard(args[1])) args[1] = host;
    } else {
      args.splice(1, 0, host);
    }
  }
  return listen.apply(this, args);
};
