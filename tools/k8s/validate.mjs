// Validates Kubernetes manifests (YAML, several documents per file) against the
// Kubernetes OpenAPI schemas that the kubernetes-models package compiles.
// Usage: node validate.mjs TOOLS_DIR FILE...   (TOOLS_DIR: where `make k8s-tools` installed it)
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [toolsDir, ...files] = process.argv.slice(2);
if (!toolsDir || !files.length) {
  console.error("usage: validate.mjs TOOLS_DIR FILE...");
  process.exit(2);
}
const req = createRequire(path.resolve(toolsDir, "package.json"));
const YAML = req("yaml");

async function modelFor(apiVersion, kind) {
  // the core group "v1" is the package's ./v1, "apps/v1" its ./apps/v1
  if (!/^([a-z0-9.]+\/)?v[0-9a-z]+$/.test(apiVersion || "") || !/^[A-Za-z]+$/.test(kind || ""))
    throw new Error(`bad apiVersion/kind: ${apiVersion} ${kind}`);
  const entry = path.resolve(toolsDir, "node_modules", "kubernetes-models");
  let mod;
  try {
    mod = await import(pathToFileURL(path.join(entry, apiVersion, "index.js")).href);
  } catch {
    throw new Error(`unknown apiVersion ${apiVersion}`);
  }
  if (!mod[kind]) throw new Error(`unknown kind ${kind} in ${apiVersion}`);
  return mod[kind];
}

let failed = 0, checked = 0;
for (const file of files) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const [i, doc] of docs.entries()) {
    const where = `${file}#${i}`;
    try {
      if (doc.errors.length) throw new Error(doc.errors.map((e) => e.message).join("; "));
      const obj = doc.toJS();
      if (obj == null) continue;
      const Model = await modelFor(obj.apiVersion, obj.kind);
      new Model(obj).validate();
      checked++;
      console.log(`ok   ${where} ${obj.kind}/${obj.metadata && obj.metadata.name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${where}: ${e.message}`);
    }
  }
}
console.log(`${checked} valid, ${failed} invalid`);
process.exit(failed || !checked ? 1 : 0);
