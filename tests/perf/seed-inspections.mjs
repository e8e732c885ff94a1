// Seeds N submitted inspections (4 photos each) in N demo villages of townships 8..19.
import { seedSubmittedInspection } from '../browser/console/lib.mjs';
const n = Number(process.argv[2] ?? 100);
let done = 0;
outer: for (let t = 8; t <= 19; t += 1) {
  for (let v = 1; v <= 19; v += 1) {
    const code = `DEMO-T${String(t).padStart(2, '0')}-V${String(v).padStart(3, '0')}`;
    try {
      await seedSubmittedInspection(code);
      done += 1;
    } catch (e) {
      continue;
    }
    if (done >= n) break outer;
  }
}
console.log(`seeded ${done}`);
