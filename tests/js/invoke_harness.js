// Runs exported JavaScript functions through @azure/functions' own invocation path, the way the
// Node.js worker does: the library registers its programming model and functions with
// `@azure/functions-core` (here a stand-in that records them), then each invocation goes
// getInvocationModel -> getArguments -> invokeFunction -> getResponse.
//
// usage: node invoke_harness.js CALLS.json FILE.js ...   CALLS: {functionName: {rows, body, route}}
// prints: [{name, bindings, returnValue, outputData, logs}] as JSON (byte bodies as UTF-8 text)
'use strict';
const Module = require('module');
const path = require('path');
const fs = require('fs');

const registered = [];
const logs = [];
let programmingModel = null;
class Disposable { constructor(fn) { this.fn = fn; } dispose() { if (this.fn) this.fn(); this.fn = undefined; } }
const core = {
    version: '3.10.1',
    hostVersion: '4.1040.300.0',
    setProgrammingModel(model) { programmingModel = model; },
    getProgrammingModel() { return programmingModel; },
    registerFunction(metadata, callback) { registered.push({ metadata, callback }); return new Disposable(); },
    registerHook() { return new Disposable(); },
    log(level, category, message) { logs.push({ level, category, message }); },
    Disposable,
};
const STAND_IN = path.join(__dirname, '@azure-functions-core-stand-in.js');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
    return request === '@azure/functions-core' ? STAND_IN : resolve.call(this, request, ...rest);
};
const cached = new Module(STAND_IN);
cached.filename = STAND_IN;
cached.loaded = true;
cached.exports = core;
require.cache[STAND_IN] = cached;

function text(data) {
    if (!data) return data;
    if (data.bytes) return { bytes: Buffer.from(data.bytes).toString('utf8') };
    return data;
}

function inputData(metadata, call) {
    const data = [];
    for (const [name, binding] of Object.entries(metadata.bindings)) {
        if (binding.direction !== 'in') continue;
        if (binding.type === 'httpTrigger') {
            const method = (binding.methods || ['GET'])[0];
            const url = 'http://localhost:7071/api/' + (binding.route || metadata.name);
            const http = { method, url, headers: { 'content-type': 'application/json' }, params: call.route || {},
                query: call.query || {} };
            if (call.body !== undefined) http.body = { string: call.body };
            data.push({ name, data: { http } });
        } else if (binding.type === 'timerTrigger') {
            data.push({ name, data: { json: JSON.stringify({ IsPastDue: false }) } });
        } else {
            // the host hands an input binding's rows to an out-of-process worker as a JSON string
            data.push({ name, data: { string: JSON.stringify(call.rows || []) } });
        }
    }
    return data;
}

async function invoke(entry, call, n) {
    const coreCtx = {
        invocationId: `invocation-${n}`,
        metadata: entry.metadata,
        request: { invocationId: `invocation-${n}`, functionId: entry.metadata.name, triggerMetadata: {},
            inputData: inputData(entry.metadata, call) },
        state: 'invocation',
        log: (level, category, message) => logs.push({ level, category, message }),
    };
    const model = programmingModel.getInvocationModel(coreCtx);
    const { context, inputs } = await model.getArguments();
    const result = await model.invokeFunction(context, inputs, entry.callback);
    const response = await model.getResponse(context, result);
    const returnValue = response.returnValue && response.returnValue.http
        ? { http: { ...response.returnValue.http, body: text(response.returnValue.http.body) } }
        : response.returnValue;
    return { name: entry.metadata.name, bindings: entry.metadata.bindings, returnValue,
        outputData: (response.outputData || []).map(o => ({ name: o.name, data: text(o.data) })) };
}

(async () => {
    const calls = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
    for (const file of process.argv.slice(3)) require(path.resolve(file));
    if (!programmingModel) throw new Error('@azure/functions did not set its programming model');
    const out = [];
    let n = 0;
    for (const entry of registered) {
        for (const call of [].concat(calls[entry.metadata.name] || [{}])) {
            const before = logs.length;
            const result = await invoke(entry, call, n++);
            result.logs = logs.slice(before).filter(l => l.category === 'user').map(l => l.message);
            out.push({ ...result, call });
        }
    }
    process.stdout.write(JSON.stringify(out));
})().catch(err => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
