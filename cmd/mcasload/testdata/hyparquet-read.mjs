// The second, independent Parquet reader of the publish tests: hyparquet (pure JavaScript, with
// hyparquet-compressors for zstd), installed pinned by .ci/install-test-servers. It decodes
// every row of each file named on the command line and prints, per file, one JSON line: the
// rows it decoded, the rows the footer declares, the distinct ids, and the leaf columns'
// Parquet types as the file's schema states them.
//
//   node hyparquet-read.mjs NODE_MODULES_DIR FILE...
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [nodeModules, ...files] = process.argv.slice(2)
const require = createRequire(join(nodeModules, 'noop.js'))
const load = async (name) => import(pathToFileURL(require.resolve(name)).href)
const { parquetMetadata, parquetReadObjects } = await load('hyparquet')
const { compressors } = await load('hyparquet-compressors')

// leaves walks the flat schema (depth first, num_children) and returns each leaf's dotted path
// with its physical, converted and logical types and repetition.
function leaves(schema) {
  const out = []
  let i = 1
  const walk = (prefix) => {
    const el = schema[i++]
    const name = prefix ? `${prefix}.${el.name}` : el.name
    const kids = el.num_children || 0
    if (kids === 0) {
      const lt = el.logical_type
      out.push({
        name, type: el.type ?? '', converted: el.converted_type ?? '', repetition: el.repetition_type ?? '',
        logical: lt ? lt.type : '', utc: lt && lt.type === 'TIMESTAMP' ? lt.isAdjustedToUTC : null,
        unit: lt && lt.type === 'TIMESTAMP' ? lt.unit : '',
      })
      return
    }
    for (let k = 0; k < kids; k++) walk(name)
  }
  while (i < schema.length) walk('')
  return out
}

for (const path of files) {
  const buf = readFileSync(path)
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
  const meta = parquetMetadata(file)
  const rows = await parquetReadObjects({ file, compressors })
  const ids = new Set(rows.map((r) => r.id))
  const badTs = rows.filter((r) => !(r.ts instanceof Date) || Number.isNaN(r.ts.getTime())).length
  const badObjects = rows.filter((r) => r.objects != null && !Array.isArray(r.objects)).length
  console.log(JSON.stringify({
    path, rows: rows.length, footer_rows: Number(meta.num_rows), ids: ids.size, bad_ts: badTs, bad_objects: badObjects,
    columns: leaves(meta.schema),
  }))
}
