const UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB'];

/** A byte count for people: 4.2 MB, 12.6 MB (decimal units, as `ls -h --si` and disk vendors count). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${UNITS[unit]}`;
}
