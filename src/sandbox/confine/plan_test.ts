import { assert, assertEquals, assertStringIncludes } from "../../../tests/assert.ts";
import { describePlan, type HostFacts, parsePlan, type PlanInput, planMachine } from "./plan.ts";

const LINUX: HostFacts = {
  os: "linux",
  landlockAbi: 7,
  seccomp: true,
  euid: 0,
  workerUser: { name: "nobody", uid: 65534, gid: 65534 },
};

const input = (over: Partial<PlanInput> = {}): PlanInput => ({
  mode: "best_effort",
  facts: LINUX,
  machineId: "m1",
  agentPid: 100,
  argv: ["/usr/bin/simco-agent", "__worker", "--machine", "m1"],
  read: ["/usr/bin/simco-agent"],
  scratch: "/data/scratch/m1",
  port: 8193,
  maxMemoryMb: 256,
  ...over,
});

Deno.test("plan: a full kernel as root gets every protection, uid drop included", () => {
  const p = planMachine(input());
  assertEquals(p.missing, []);
  assertEquals(p.refuse, null);
  assertEquals(p.active, [
    "no_new_privs",
    "rlimits",
    "parent_death_signal",
    "uid_drop",
    "capabilities_dropped",
    "landlock_fs",
    "landlock_tcp",
    "landlock_scope",
    "seccomp",
  ]);
  assertEquals([p.linux?.uid, p.linux?.gid, p.linux?.dropCaps], [65534, 65534, true]);
  assertEquals(p.linux?.landlock, {
    abi: 6,
    read: ["/usr/bin/simco-agent"],
    write: ["/data/scratch/m1"],
    connectPorts: [8193],
  });
  assertEquals(p.linux?.rlimits.core, 0);
});

Deno.test("plan: best_effort degrades with reasons, strict refuses with the same reasons", () => {
  const facts: HostFacts = {
    ...LINUX,
    landlockAbi: 3,
    workerUser: { name: "nobody", problem: "/root is mode 0700" },
  };
  const best = planMachine(input({ facts }));
  assertEquals(best.refuse, null);
  assert(!best.active.includes("uid_drop") && !best.active.includes("landlock_tcp"));
  assertEquals(best.linux?.uid, null);
  assertEquals(best.missing.length, 2);
  assertStringIncludes(best.missing[0], "/root is mode 0700");
  assertStringIncludes(best.missing[1], "landlock ABI 3 < 6: tcp connect/bind, device ioctl");
  const strict = planMachine(input({ facts, mode: "strict" }));
  assertStringIncludes(
    strict.refuse ?? "",
    'machine m1: confinement = "strict" but uid drop: /root is mode 0700',
  );
  assertEquals(strict.linux?.strict, true);
});

Deno.test("plan: off applies nothing; not root means no uid drop and no capability step; Windows uses a job", () => {
  assertEquals(planMachine(input({ mode: "off" })), {
    mode: "off",
    active: [],
    missing: [],
    refuse: null,
    linux: null,
  });
  const user = planMachine(input({ facts: { ...LINUX, euid: 1000, workerUser: null } }));
  assertEquals([user.linux?.uid, user.linux?.dropCaps, user.missing], [null, false, []]);
  const win = planMachine(
    input({ facts: { os: "windows", landlockAbi: 0, seccomp: false, euid: null, workerUser: null } }),
  );
  assertEquals([win.active, win.linux], [["job_object", "clean_environment"], null]);
  assertEquals(describePlan(planMachine(input({ mode: "off" }))), "off (no OS confinement)");
});

Deno.test("plan: the environment form round-trips and anything else is refused in one line", () => {
  const p = planMachine(input()).linux!;
  assertEquals(parsePlan(JSON.stringify(p)), p);
  let msg = "";
  try {
    parsePlan('{"v":2}');
  } catch (e) {
    msg = (e as Error).message;
  }
  assertEquals(msg, "SIMCO_CONFINE is not a confinement plan of version 1");
});
