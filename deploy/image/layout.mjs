// Writes an OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
// from layer tarballs: blobs, the image config, the manifest and index.json naming the image.
// Everything is derived from the inputs and SOURCE_DATE_EPOCH, so the digest is reproducible.
//
//   node deploy/image/layout.mjs OUT NAME:TAG EPOCH LAYER.tar LAYER.tar.gz [LAYER.tar LAYER.tar.gz ...]
//
// Prints `NAME:TAG sha256:<manifest digest>`.
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [out, ref, epoch, ...tars] = process.argv.slice(2);
if (!out || !ref?.includes(':') || !/^\d+$/.test(epoch ?? '') || tars.length === 0 || tars.length % 2) {
  console.error('usage: layout.mjs OUT NAME:TAG EPOCH (LAYER.tar LAYER.tar.gz)...');
  process.exit(2);
}
const blobs = join(out, 'blobs', 'sha256');
mkdirSync(blobs, { recursive: true });

const sha256 = (path) =>
  new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
const writeBlob = (bytes, mediaType) => {
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(blobs, hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
};

const layers = [];
const diffIds = [];
for (let i = 0; i < tars.length; i += 2) {
  const [tar, gz] = [tars[i], tars[i + 1]];
  diffIds.push(`sha256:${await sha256(tar)}`);
  const hex = await sha256(gz);
  copyFileSync(gz, join(blobs, hex));
  layers.push({
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    digest: `sha256:${hex}`,
    size: statSync(gz).size,
  });
}

const created = new Date(Number(epoch) * 1000).toISOString();
const config = {
  created,
  architecture: 'amd64',
  os: 'linux',
  config: {
    // The chart's securityContext runs the same user; the image refuses root by not needing it.
    User: '10001:10001',
    Env: [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'NODE_ENV=production',
      'HOST=0.0.0.0',
      'PORT=8080',
    ],
    Entrypoint: ['/usr/bin/node', '/app/bin/kaas.mjs'],
    Cmd: ['serve'],
    WorkingDir: '/app',
    ExposedPorts: { '8080/tcp': {} },
    StopSignal: 'SIGTERM',
    Labels: {
      'org.opencontainers.image.title': 'kaas',
      'org.opencontainers.image.version': ref.slice(ref.lastIndexOf(':') + 1),
      'org.opencontainers.image.created': created,
    },
  },
  rootfs: { type: 'layers', diff_ids: diffIds },
  history: diffIds.map((_, i) => ({
    created,
    created_by: i === 0 ? 'deploy/image/build.sh: Debian base (mmdebstrap)' : 'deploy/image/build.sh: /app',
  })),
};
const configBlob = writeBlob(Buffer.from(JSON.stringify(config)), 'application/vnd.oci.image.config.v1+json');
const manifest = writeBlob(
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: configBlob,
      layers,
    }),
  ),
  'application/vnd.oci.image.manifest.v1+json',
);
writeFileSync(join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
writeFileSync(
  join(out, 'index.json'),
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': ref } }],
  }),
);
const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
const packed = layers.reduce((sum, l) => sum + l.size, 0);
let unpacked = 0;
for (let i = 0; i < tars.length; i += 2) unpacked += statSync(tars[i]).size;
console.error(
  `image: ${ref} ${manifest.digest}: ${mib(packed)} MiB compressed, ${mib(unpacked)} MiB of layers`,
);
process.stdout.write(`${ref} ${manifest.digest}\n`);
