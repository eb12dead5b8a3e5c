// Validate one GLB (or glTF) file with the Khronos glTF validator and print its report.
//
//     node tests/tools/gltf_validate.mjs path/to/scene.glb
//
// Prints one JSON object on stdout: the validator's version, the issue counts
// (numErrors, numWarnings, numInfos, numHints), every message, and the asset info.
// Exit status: 0 when the report has no errors, 1 when it has some, 2 when the file
// cannot be read or the validator rejects the input outright.

import { readFile } from "node:fs/promises";
import { basename } from "node:path";

import { validateBytes, version } from "gltf-validator";

const path = process.argv[2];
if (!path) {
  process.stderr.write("usage: node gltf_validate.mjs <file.glb>\n");
  process.exit(2);
}

let bytes;
try {
  bytes = new Uint8Array(await readFile(path));
} catch (error) {
  process.stderr.write(`cannot read ${path}: ${error.message}\n`);
  process.exit(2);
}

let report;
try {
  report = await validateBytes(bytes, {
    uri: basename(path),
    maxIssues: 0, // every issue, not the first hundred
    writeTimestamp: false,
    // A GLB carries everything in its binary chunk; any external reference is a defect
    // the validator reports on its own, so nothing is fetched.
    externalResourceFunction: (uri) => Promise.reject(new Error(`external resource ${uri}`)),
  });
} catch (error) {
  process.stderr.write(`validator rejected ${path}: ${error}\n`);
  process.exit(2);
}

const issues = report.issues ?? {};
const summary = {
  validatorVersion: version(),
  uri: report.uri,
  mimeType: report.mimeType,
  numErrors: issues.numErrors ?? 0,
  numWarnings: issues.numWarnings ?? 0,
  numInfos: issues.numInfos ?? 0,
  numHints: issues.numHints ?? 0,
  truncated: Boolean(issues.truncated),
  messages: issues.messages ?? [],
  info: report.info ?? {},
};
// Set the exit code and let Node exit on its own: process.exit() right after a large
// write to a pipe cuts the report short.
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exitCode = summary.numErrors === 0 ? 0 : 1;
