/** Windows Job object per worker (placeholder until the Windows part lands). */
export function assignJobObject(_pid: number, _maxMemoryMb: number, _mode: string): void {}
