package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.InventoryLoader;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.machines.Machine;
import dev.kiln.machines.qemu.DataDisk;
import dev.kiln.validator.power.BmcMachines;
import dev.kiln.validator.provider.DataDisks;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Node-local disks (debian-node's storage: keeps /var/lib/etcd and /var/lib/containerd on a data
 * disk of 8G or more) on real QEMU machines with virtio data disks.
 *
 * <p>One lab of 3 masters behind ipmi_sim BMCs, booted once, then in sequence: keys written to
 * etcd; a rollout reimage of m2 (the directive set through {@link dev.kiln.fleet.KilnServer#direct}
 * exactly as the rollout controller sets it: reimage=ROLLOUT-ID, role=join-master and a live
 * masterAddr, then a BMC power cycle) wipes its disk and it rejoins as a new member; then all three
 * masters lose power at once (BMC power off, then on) and come back as the same members with every
 * key. A separate validation run (kiln validate with data disks) shows the refusals: a master whose
 * disk carries someone else's filesystem and a worker with two equally large disks fail, naming the
 * disks, and their disks stay as they were.
 */
@Tag("vm")
class NodeStorageTest {
    private static final long GIB8 = 8L << 30;

    @TempDir
    Path tmp;

    private final List<Map.Entry<String, NodeStatus>> seen = new CopyOnWriteArrayList<>();

    @Test
    void etcdOnDataDisksSurvivesAPowerCutOfEveryMasterAndAReimageWipesOnlyThatNode() throws Exception {
        Manifest image = TestImages.debianNode();
        Path dir = tmp.resolve("lab");
        Path tmpRoot = Files.createDirectories(tmp.resolve("runs"));
        String runId;
        try (Lab lab = Lab.start(new Lab.Request(
                TestImages.store(),
                ImageRef.parse(image.ref()),
                3,
                0,
                "ipmi",
                dir,
                tmpRoot,
                l -> System.out.println("lab: " + l),
                false,
                DataDisks.each(List.of(GIB8))))) {
            runId = lab.runId();
            lab.server().onStatus((mac, s) -> seen.add(Map.entry(mac, s)));
            Path inventory = dir.resolve("inventory.yaml");
            Map<String, Inventory.Member> m = new LinkedHashMap<>();
            for (Inventory.Member member :
                    InventoryLoader.load(inventory, TestImages.store()).members()) {
                m.put(member.name(), member);
            }
            String m1 = m.get("m1").node().address();
            String m2 = m.get("m2").node().address();

            // First boot: each master formats its blank disk.
            for (String name : m.keySet()) {
                List<NodeStatus> boot = awaitReady(m.get(name).mac(), 0, Duration.ofSeconds(600));
                assertThat(detail(boot, "placeholders-rendered"))
                        .contains("storage data: formatted /dev/vda (8.0G, serial kiln-" + name + "-d0)")
                        .contains("on /var/lib/kiln-data, binds /var/lib/etcd /var/lib/containerd");
            }
            Map<String, String> keys = new LinkedHashMap<>();
            for (int i = 0; i < 20; i++) {
                keys.put("kiln-test/k" + i, "v" + i);
                EtcdHttp.put(m1, "kiln-test/k" + i, "v" + i);
            }
            Map<String, String> before = EtcdHttp.members(m1);
            assertThat(before).containsOnlyKeys("m1", "m2", "m3");

            // A rollout reimages m2: the directive the controller sets, then a BMC power cycle.
            int mark = seen.size();
            lab.server()
                    .direct(m.get("m2").mac(), Map.of("reimage", "ro-test-1", "role", "join-master", "masterAddr", m1));
            try (Machine bmc = BmcMachines.of(m.get("m2"), inventory, Duration.ofSeconds(10), System.out::println)) {
                bmc.powerCycle();
            }
            List<NodeStatus> reimaged = awaitReady(m.get("m2").mac(), mark, Duration.ofSeconds(400));
            lab.server().clearDirective(m.get("m2").mac());
            assertThat(detail(reimaged, "placeholders-rendered"))
                    .contains("storage data: wiped for reimage ro-test-1 /dev/vda (8.0G, serial kiln-m2-d0)");
            Map<String, String> afterReimage = awaitMembers(m1, 3);
            assertThat(afterReimage).containsOnlyKeys("m1", "m2", "m3");
            assertThat(afterReimage.get("m2"))
                    .as("m2 rejoined as a new member, never under its old id with an empty data dir")
                    .isNotEqualTo(before.get("m2"));
            assertThat(afterReimage).containsEntry("m1", before.get("m1")).containsEntry("m3", before.get("m3"));
            assertThat(awaitKeys(m2, keys.size()))
                    .as("the new member has the cluster's data")
                    .isEqualTo(keys);

            for (int i = 20; i < 30; i++) {
                keys.put("kiln-test/k" + i, "v" + i);
                EtcdHttp.put(m1, "kiln-test/k" + i, "v" + i);
            }
            // A power cut of every master at once: all off, then all on; no directive, so no wipe.
            mark = seen.size();
            List<Machine> bmcs = new ArrayList<>();
            try {
                for (Inventory.Member member : m.values()) {
                    bmcs.add(BmcMachines.of(member, inventory, Duration.ofSeconds(10), System.out::println));
                }
                for (Machine b : bmcs) {
                    b.powerOff();
                }
                for (Machine b : bmcs) {
                    assertThat(b.powerState()).isEqualTo(Machine.PowerState.OFF);
                }
                for (Machine b : bmcs) {
                    b.powerOn();
                }
            } finally {
                for (Machine b : bmcs) {
                    b.close();
                }
            }
            for (String name : m.keySet()) {
                List<NodeStatus> boot = awaitReady(m.get(name).mac(), mark, Duration.ofSeconds(600));
                assertThat(detail(boot, "placeholders-rendered"))
                        .as(name + " kept its data")
                        .contains("storage data: kept /dev/vda (8.0G, serial kiln-" + name + "-d0)");
            }
            assertThat(awaitMembers(m1, 3))
                    .as("the same members, none re-joined")
                    .isEqualTo(afterReimage);
            for (Inventory.Member member : m.values()) {
                assertThat(awaitKeys(member.node().address(), keys.size()))
                        .as(member.name() + " has every key after the power cut")
                        .isEqualTo(keys);
            }
        }
        assertThat(Leftovers.of(runId, tmpRoot)).isEmpty();
        assertThat(dir).doesNotExist();
    }

    @Test
    void ambiguousAndForeignDisksFailTheNodeNamingThemAndAreLeftUntouched() throws Exception {
        Manifest image = TestImages.debianNode();
        Path disks = Files.createDirectories(tmp.resolve("disks"));
        Path m1 = sparse(disks.resolve("m1.raw"));
        Exec.of("mkfs.ext4", "-q", "-F", "-L", "backup", m1.toString()).run();
        String superblock = Exec.of("dumpe2fs", "-h", m1.toString()).run();
        Path w1a = sparse(disks.resolve("w1-a.raw"));
        Path w1b = sparse(disks.resolve("w1-b.raw"));
        Path tmpRoot = Files.createDirectories(tmp.resolve("tmp"));

        ValidationReport r = Validator.run(new Validator.Request(
                        dev.kiln.core.store.ImageSource.local(TestImages.store()),
                        ImageRef.parse(image.ref()),
                        "qemu-pxe",
                        1,
                        1,
                        Duration.ofSeconds(600),
                        tmp.resolve("reports"),
                        tmpRoot,
                        System.out::println)
                .withDataDisks(new DataDisks(
                        List.of(),
                        Map.of(
                                "m1",
                                List.of(DataDisk.existing(m1)),
                                "w1",
                                List.of(DataDisk.existing(w1a), DataDisk.existing(w1b))))));

        assertThat(r.passed()).isFalse();
        Map<String, ValidationReport.Node> nodes = new LinkedHashMap<>();
        r.nodes().forEach(n -> nodes.put(n.name(), n));
        assertThat(nodes.get("m1").failure().step()).isEqualTo("storage");
        assertThat(nodes.get("m1").failure().error())
                .contains("storage data: /dev/vda (8.0G, serial kiln-m1-d0) carries ext4 labelled 'backup', not"
                        + " kiln's label 'kiln-data': left untouched")
                .contains("takeover: true");
        assertThat(nodes.get("w1").failure().step()).isEqualTo("storage");
        assertThat(nodes.get("w1").failure().error())
                .contains("storage data: 2 disks match {minSize: 8G, pick: largest}")
                .contains("/dev/vda (8.0G, serial kiln-w1-d0), /dev/vdb (8.0G, serial kiln-w1-d1)")
                .contains("refusing to choose (fail closed)");
        // Not a byte written: the foreign disk was never even mounted, the ambiguous ones are holes.
        assertThat(Exec.of("dumpe2fs", "-h", m1.toString()).run()).isEqualTo(superblock);
        assertThat(allocatedBlocks(w1a)).isZero();
        assertThat(allocatedBlocks(w1b)).isZero();
        assertThat(Leftovers.of(r.runId(), tmpRoot)).isEmpty();
    }

    private static Path sparse(Path file) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(GIB8);
        }
        return file;
    }

    private static long allocatedBlocks(Path file) throws Exception {
        return Long.parseLong(Exec.of("stat", "-c", "%b", file.toString()).run().strip());
    }

    /**
     * The reports of {@code mac}'s next boot after {@code from} (kiln serve handing out its boot
     * script, then the agent's steps) up to "ready"; fails on "failed".
     */
    private List<NodeStatus> awaitReady(String mac, int from, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            List<NodeStatus> boot = new ArrayList<>();
            boolean booting = false;
            for (Map.Entry<String, NodeStatus> e : seen.subList(from, seen.size())) {
                if (!e.getKey().equals(mac)) {
                    continue;
                }
                if (NodeStatus.IPXE.equals(e.getValue().step())) {
                    booting = true;
                    boot.clear();
                }
                if (booting) {
                    boot.add(e.getValue());
                    if ("failed".equals(e.getValue().step())) {
                        throw new AssertionError(
                                "node " + mac + " failed: " + e.getValue().detail());
                    }
                    if ("ready".equals(e.getValue().step())) {
                        return boot;
                    }
                }
            }
            Thread.sleep(1000);
        }
        throw new AssertionError("node " + mac + " was not ready within " + timeout.toSeconds() + " s; seen " + seen);
    }

    private static String detail(List<NodeStatus> boot, String step) {
        return boot.stream()
                .filter(s -> step.equals(s.step()))
                .map(NodeStatus::detail)
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + step + " in " + boot));
    }

    /** The members once there are {@code n} started ones (a new member names itself on start). */
    private static Map<String, String> awaitMembers(String address, int n) throws Exception {
        Map<String, String> last = Map.of();
        for (int i = 0; i < 60; i++) {
            try {
                last = EtcdHttp.members(address);
                if (last.size() == n && last.keySet().stream().noneMatch(k -> k.startsWith("("))) {
                    return last;
                }
            } catch (java.io.IOException notYet) {
                last = Map.of("(no answer)", String.valueOf(notYet.getMessage()));
            }
            Thread.sleep(1000);
        }
        return last;
    }

    /** The node's own copy of the test keys, once it has {@code n} of them (replication may lag). */
    private static Map<String, String> awaitKeys(String address, int n) throws Exception {
        Map<String, String> last = Map.of();
        for (int i = 0; i < 30; i++) {
            try {
                last = EtcdHttp.prefix(address, "kiln-test/");
                if (last.size() >= n) {
                    return last;
                }
            } catch (java.io.IOException notYet) {
                last = Map.of("(no answer)", String.valueOf(notYet.getMessage()));
            }
            Thread.sleep(1000);
        }
        return last;
    }
}
