#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (onnxruntime-node, installed by tools/setup.sh) on a raw
// little-endian f32 input and prints the first output, or compares it with expected values.
//
//   node tools/onnx_run.js MODEL.onnx INPUT.f32 N,C,H,W [--expect EXPECTED.f32] [--rtol 1e-4]
//                          [--threads 2] [--output OUT.f32] [--time SECONDS]
//
// With --time: prints {"images_per_second": ...} of repeated runs over at least that long.
// With --expect: exit 0 when max |output - expected| <= rtol * max |expected| (the largest
// difference relative to the output's scale), else exit 1; the line printed says which.
'use strict';
const fs = require('fs');
const path = require('path');
const { execSync } = require('child_process');

function loadOrt() {
  try {
    return require('onnxruntime-node');
  } catch (e) {
    const root = execSync('npm root -g').toString().trim();
    return require(path.join(root, 'onnxruntime-node'));
  }
}

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

function readF32(file) {
  const bytes = fs.readFileSync(file);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

async function main() {
  const args = process.argv.slice(2);
  const flags = {};
  const positional = [];
  for (let i = 0; i < args.length; ++i) {
    if (args[i].startsWith('--')) flags[args[i].slice(2)] = args[++i];
    else positional.push(args[i]);
  }
  if (positional.length !== 3) fail('usage: onnx_run.js MODEL.onnx INPUT.f32 N,C,H,W [--expect FILE] [--rtol R]');
  const [modelPath, inputPath, shapeText] = positional;
  const dims = shapeText.split(',').map(Number);
  const input = readF32(inputPath);
  if (dims.reduce((a, b) => a * b, 1) !== input.length) {
    fail(`${inputPath}: ${input.length} floats, the shape ${shapeText} needs ${dims.reduce((a, b) => a * b, 1)}`);
  }
  const ort = loadOrt();
  ort.env.logLevel = 'error';  // not the warning that it cannot persist a telemetry id
  const threads = Number(flags.threads || 2);
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: threads, interOpNumThreads: 1, logSeverityLevel: 3 });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, dims) };
  if (flags.time) {  // throughput: images per second over at least this many seconds
    for (let i = 0; i < 2; ++i) await session.run(feeds);
    let runs = 0;
    const start = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
    while (elapsed() < Number(flags.time)) {
      await session.run(feeds);
      ++runs;
    }
    console.log(JSON.stringify({ images_per_second: (runs * dims[0]) / elapsed() }));
    return;
  }
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]];
  if (flags.output) fs.writeFileSync(flags.output, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  if (!flags.expect) {
    console.log(`${session.outputNames[0]} [${out.dims}]: ${Array.from(out.data.slice(0, 10)).map((v) => v.toFixed(5)).join(' ')}`);
    return;
  }
  const expected = readF32(flags.expect);
  if (expected.length !== out.data.length) fail(`output has ${out.data.length} values, ${flags.expect} ${expected.length}`);
  let maxDiff = 0, scale = 0;
  for (let i = 0; i < expected.length; ++i) {
    maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  const rtol = Number(flags.rtol || 1e-4);
  const relative = scale > 0 ? maxDiff / scale : maxDiff;
  const ok = Number.isFinite(relative) && relative <= rtol;
  console.log(`${ok ? 'match' : 'MISMATCH'}: ${out.data.length} outputs [${out.dims}], max |diff| ${maxDiff.toExponential(3)}, ` +
              `max |expected| ${scale.toExponential(3)}, relative ${relative.toExponential(3)} (rtol ${rtol})`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => fail(e.message));
