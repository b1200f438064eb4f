package dev.kiln.builder.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The detection from a fake /proc/self and cgroup tree, and the refusal on this host (cgroup v1 controllers). */
class CgroupV2Test {
    @TempDir
    Path root;

    private static final CgroupV2.Limits LIMITS = new CgroupV2.Limits("268435456", "512", "150000 100000");

    private void proc(String cgroup, String... mountinfo) throws IOException {
        Files.createDirectories(root.resolve("proc/self"));
        Files.writeString(root.resolve("proc/self/cgroup"), cgroup);
        Files.writeString(root.resolve("proc/self/mountinfo"), String.join("\n", mountinfo) + "\n");
    }

    private Path cgroupDir(String path, String controllers, String subtree) throws IOException {
        Path dir = Files.createDirectories(root.resolve(path));
        Files.writeString(dir.resolve("cgroup.controllers"), controllers + "\n");
        Files.writeString(dir.resolve("cgroup.subtree_control"), subtree + "\n");
        return dir;
    }

    /** A host that cannot give RUNs a cgroup, and the reason the probe must give. */
    record Refused(String what, String cgroup, String mountinfo, String dir, String controllers, String subtree, String reason) {
        @Override
        public String toString() {
            return what;
        }
    }

    static List<Refused> refusedHosts() {
        return List.of(
                new Refused("cgroup v1 only is no v2 hierarchy", "9:name=systemd:/\n8:pids:/\n4:memory:/\n",
                        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory", null, null, null, "cgroup v1"),
                // this host's shape: memory, pids and cpu on v1, only hugetlb on the unified hierarchy
                new Refused("a hybrid unified tree without controllers is not enough", "9:name=systemd:/\n0::/\n",
                        "40 31 0:36 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw", "sys/fs/cgroup/unified", "hugetlb", "",
                        "no memory, pids, cpu controller"),
                new Refused("controllers not enabled for children mean no delegation", "0::/kiln\n",
                        "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw", "sys/fs/cgroup/kiln", "cpuset cpu io memory pids", "memory",
                        "does not enable pids, cpu"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusedHosts")
    void aHostWithoutADelegatedV2SubtreeIsRefusedSayingWhy(Refused host) throws IOException {
        proc(host.cgroup(), host.mountinfo());
        if (host.dir() != null) {
            cgroupDir(host.dir(), host.controllers(), host.subtree());
        }
        CgroupV2.Probe p = CgroupV2.probe(root);
        assertFalse(p.usable());
        assertTrue(p.missing().contains(host.reason()), p.missing());
    }

    @Test
    void aDelegatedSubtreeGetsAChildPerRunWithTheLimitsWritten() throws Exception {
        // a container's cgroup namespace: the mount's root is the container's own cgroup
        proc("0::/kubepods/pod1/ctr/kiln\n",
                "22 1 0:26 /kubepods/pod1/ctr /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate");
        Path dir = cgroupDir("sys/fs/cgroup/kiln", "cpu io memory pids", "cpu memory pids");
        CgroupV2.Probe p = CgroupV2.probe(root);
        assertTrue(p.usable(), p.missing());
        assertEquals(dir, p.dir());
        Path child = Sandboxes.runCgroup(LIMITS, false, () -> p);
        assertEquals(dir, child.getParent());
        assertEquals("268435456", Files.readString(child.resolve("memory.max")));
        assertEquals("512", Files.readString(child.resolve("pids.max")));
        assertEquals("150000 100000", Files.readString(child.resolve("cpu.max")));
        for (String f : List.of("memory.max", "pids.max", "cpu.max")) {
            Files.delete(child.resolve(f)); // the kernel's files vanish with the directory; plain ones do not
        }
        CgroupV2.remove(child);
        assertFalse(Files.exists(child));
    }

    @Test
    void withoutLimitsAskedForNothingIsProbed() throws Exception {
        assertNull(Sandboxes.runCgroup(CgroupV2.Limits.NONE, false, () -> {
            throw new AssertionError("probed");
        }));
    }

    @Test
    void requiredButUnavailableIsARefusalInOneLineOtherwiseTheRunGoesOn() throws Exception {
        CgroupV2.Probe none = new CgroupV2.Probe(null, "this process is in no cgroup v2 hierarchy (cgroup v1 only)");
        SandboxException e = assertThrows(SandboxException.class, () -> Sandboxes.runCgroup(LIMITS, true, () -> none));
        assertTrue(e.getMessage().startsWith("RUN refused: no cgroup v2 limits here (this process is in no cgroup v2"),
                e.getMessage());
        assertTrue(e.getMessage().contains("kiln.builds.require-cgroup-limits"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertNull(Sandboxes.runCgroup(LIMITS, false, () -> none), "a warning, and the RUN goes on");
    }

    @Test
    void onThisHostARequiredLimitRefusesTheRun() throws Exception {
        Assumptions.assumeTrue(ProcessRunner.currentUid() == 0 && Sandboxes.namespacesWork(), "needs root and namespaces");
        Assumptions.assumeFalse(CgroupV2.probe().usable(), "this host has a delegated cgroup v2 subtree");
        Path rootfs = TestRootfs.create(root);
        SandboxPolicy policy = SandboxPolicy.DEFAULT.withCgroupLimits(LIMITS, true);
        SandboxException e = assertThrows(SandboxException.class, () -> new NamespaceSandbox(true)
                .run(RunSpec.builder(rootfs, List.of("/bin/sh", "-c", "echo ran > /leak")).env(List.of("PATH=/bin"))
                        .policy(policy).build()));
        assertTrue(e.getMessage().startsWith("RUN refused: no cgroup v2 limits here"), e.getMessage());
        assertFalse(Files.exists(rootfs.resolve("leak")));
    }
}
