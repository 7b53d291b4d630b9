package io.wgcni.e2e;

import io.wgcni.cni.Sh;
import io.wgcni.node.LocalCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * ADD and DEL latency of the plugin against a real node-manager, beside the reference bridge + host-local
 * plugins in the same run: each call a process, timed from exec to exit, as a runtime sees it. Run by cni/bench.sh.
 * Both plugins run under {@code nsenter --net=} into a namespace of the benchmark's (bridge puts its bridge in
 * the namespace it runs in), so both pay the same launcher overhead.
 */
public final class CniBenchmark {
    private static final int RUNS = Integer.getInteger("runs", 100);
    private static final int CONCURRENT = Integer.getInteger("concurrent", 20);

    private CniBenchmark() {}

    /** {@code env}: extra variables; JDK_JAVA_OPTIONS=-XX:AOTMode=off measures the launcher without its cache. */
    record Plugin(String name, Path executable, String conf, String hostNetns, Map<String, String> env) {}

    private static final Map<String, String> AOT_OFF = Map.of("JDK_JAVA_OPTIONS", "-XX:AOTMode=off");

    record Figures(double[] add, double[] del, int concurrentOk, double concurrentWall, double concurrentMax) {}

    public static void main(String[] args) throws Exception {
        Path plugin = Path.of(args.length > 0 ? args[0] : "target/wireguard").toAbsolutePath();
        Path work = Files.createTempDirectory("cn-bench");
        try (LocalCluster cluster = LocalCluster.start(work, 1)) {
            String host = cluster.emptyNamespace();
            Plugin wireguard = new Plugin("wireguard (wgcni)", plugin, "{\"cniVersion\":\"1.0.0\",\"name\":\"cnbench\","
                    + "\"type\":\"wireguard\",\"socket\":\"" + cluster.node(1).cniSocket + "\"}", host, Map.of());
            Plugin noAot = new Plugin("wireguard (wgcni), AOT cache off", plugin, wireguard.conf(), host, AOT_OFF);
            Plugin bridge = new Plugin("bridge + host-local", Path.of("/usr/lib/cni/bridge"),
                    "{\"cniVersion\":\"1.0.0\",\"name\":\"cnbench\",\"type\":\"bridge\",\"bridge\":\"cn"
                    + cluster.tag() + "b\",\"isGateway\":true,\"ipam\":{\"type\":\"host-local\","
                    + "\"subnet\":\"10.232.0.0/16\",\"dataDir\":\"" + work.resolve("ipam") + "\"}}", host, Map.of());
            double[] version = floor(plugin);
            List<String> rows = new ArrayList<>();
            for (Plugin p : List.of(wireguard, noAot, bridge)) {
                Figures f = measure(cluster, p);
                rows.add(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.1f | %.1f | %d/%d, slowest %.0f ms, all "
                        + "done in %.0f ms |", p.name(), pct(f.add(), 50), pct(f.add(), 99), pct(f.del(), 50),
                        pct(f.del(), 99), f.concurrentOk(), CONCURRENT, f.concurrentMax(), f.concurrentWall()));
            }
            System.out.println();
            System.out.printf(Locale.ROOT, "CNI plugin latency, ms, %d runs each (exec to exit), %d concurrent ADDs; "
                    + "%s, %d CPUs, load %s%n%n", RUNS, CONCURRENT, System.getProperty("java.version"),
                    Runtime.getRuntime().availableProcessors(), Files.readString(Path.of("/proc/loadavg")).strip());
            System.out.println("| plugin | ADD p50 | ADD p99 | DEL p50 | DEL p99 | concurrent ADDs |");
            System.out.println("| --- | --- | --- | --- | --- | --- |");
            rows.forEach(System.out::println);
            System.out.printf(Locale.ROOT, "%nwireguard VERSION (the JVM start-up floor), p50: %.1f ms with the AOT "
                    + "cache, %.1f ms without%n", version[0], version[1]);
        } finally {
            Sh.quietly("rm", "-rf", work.toString());
        }
    }

    /** VERSION's p50 with and without the AOT cache, interleaved so that both see the same machine. */
    private static double[] floor(Path plugin) throws Exception {
        double[][] t = new double[2][RUNS];
        for (int i = 0; i < RUNS; i++) {
            for (int mode = 0; mode < 2; mode++) {
                Map<String, String> env = new HashMap<>(mode == 0 ? Map.of() : AOT_OFF);
                env.put("CNI_COMMAND", "VERSION");
                long start = System.nanoTime();
                Sh.Result r = Sh.exec(env, true, Sh.utf8("{\"cniVersion\":\"1.0.0\"}"), List.of(plugin.toString()));
                t[mode][i] = (System.nanoTime() - start) / 1e6;
                check(r, "VERSION");
            }
        }
        return new double[] {pct(t[0], 50), pct(t[1], 50)};
    }

    private static Figures measure(LocalCluster cluster, Plugin p) throws Exception {
        List<String> containers = new ArrayList<>();
        for (int i = 0; i < RUNS + CONCURRENT; i++) {
            containers.add(cluster.emptyNamespace());
        }
        double[] add = new double[RUNS];
        double[] del = new double[RUNS];
        for (int i = 0; i < RUNS; i++) {
            add[i] = call(p, "ADD", containers.get(i));
        }
        for (int i = 0; i < RUNS; i++) {
            del[i] = call(p, "DEL", containers.get(i));
        }
        ExecutorService pool = Executors.newFixedThreadPool(CONCURRENT);
        List<Future<Double>> adds = new ArrayList<>();
        long start = System.nanoTime();
        for (String c : containers.subList(RUNS, RUNS + CONCURRENT)) {
            adds.add(pool.submit(() -> call(p, "ADD", c)));
        }
        int ok = 0;
        double max = 0;
        for (Future<Double> f : adds) {
            try {
                max = Math.max(max, f.get());
                ok++;
            } catch (Exception e) {
                System.err.println(p.name() + ": a concurrent ADD failed: " + e.getCause().getMessage());
            }
        }
        double wall = (System.nanoTime() - start) / 1e6;
        for (String c : containers.subList(RUNS, RUNS + CONCURRENT)) {
            pool.submit(() -> call(p, "DEL", c)).get();
        }
        pool.shutdown();
        return new Figures(add, del, ok, wall, max);
    }

    private static double call(Plugin p, String command, String container) throws Exception {
        Map<String, String> env = new HashMap<>();
        env.put("CNI_COMMAND", command);
        env.put("CNI_CONTAINERID", container);
        env.put("CNI_NETNS", "/var/run/netns/" + container);
        env.put("CNI_IFNAME", "eth0");
        env.put("CNI_PATH", "/usr/lib/cni");
        env.put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        env.putAll(p.env());
        long start = System.nanoTime();
        Sh.Result r = Sh.exec(env, true, Sh.utf8(p.conf()), List.of("nsenter", "--net=/run/netns/" + p.hostNetns(),
                p.executable().toString()));
        double ms = (System.nanoTime() - start) / 1e6;
        check(r, p.name() + " " + command + " " + container);
        if (ms > 500) {
            System.err.printf(Locale.ROOT, "slow: %s %s %s %.0f ms, ended %s%n", p.name(), command, container, ms,
                    java.time.Instant.now());
        }
        return ms;
    }

    private static void check(Sh.Result r, String what) {
        if (r.status() != 0) {
            throw new IllegalStateException(what + " failed: " + r.stdout() + r.stderr());
        }
    }

    /** Nearest-rank percentile. */
    static double pct(double[] values, int p) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[Math.max(0, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
    }
}
