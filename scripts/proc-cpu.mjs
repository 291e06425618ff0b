// Where the CPU goes during a realtime measurement, from /proc: the API
// process's, this client's own and PostgreSQL's (every process named
// `postgres`), in CPU seconds; `cores` turns two readings into cores
// (CPU seconds per second of wall time).

import { readdirSync, readFileSync } from 'node:fs';

// CPU seconds a process has used (0 when it is gone).
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

export function cpu(apiPid) {
  let postgres = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') postgres += cpuSeconds(pid);
    } catch {
      // The process ended meanwhile.
    }
  }
  return { at: performance.now(), api: apiPid ? cpuSeconds(apiPid) : 0, client: cpuSeconds(process.pid), postgres };
}

// "API 1.08, this client 0.43, PostgreSQL 0.42" cores between two readings.
export function cores(before, after) {
  const wall = (after.at - before.at) / 1000;
  const share = (key) => ((after[key] - before[key]) / wall).toFixed(2);
  return `API ${share('api')}, this client ${share('client')}, PostgreSQL ${share('postgres')}`;
}
