/**
 * The one place the analysis' input key is built: `tenants/<tenant>/<filename>`, each part one path segment.
 * The tenant is the verified caller's; the filename is percent-encoded (`encodeURIComponent`), so `/` and `..` in a
 * filename can never leave the tenant's prefix. A segment of dots only (`.`, `..`) is encoded too (`%2E`), so no
 * client that normalises paths can read it as a step up.
 */
export const STORAGE_PREFIX = 'tenants/';

export function storageKeyOf(tenantId: string, videoFilename: string): string {
  return `${STORAGE_PREFIX}${segment(tenantId)}/${segment(videoFilename)}`;
}

function segment(value: string): string {
  const encoded = encodeURIComponent(value);
  return /^\.+$/.test(encoded) ? '%2E'.repeat(encoded.length) : encoded;
}
