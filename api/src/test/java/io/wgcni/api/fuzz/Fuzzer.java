package io.wgcni.api.fuzz;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A time-bounded mutation fuzzer for the tests of every module (shared as the api module's test-jar): inputs are
 * the target's corpus (files under {@code src/test/resources/fuzz/<target>/}, kept in the repository) mutated at
 * random, bit flips, interesting bytes, cuts, repeats, splices of two seeds, so that each input is near a valid
 * one and reaches past the first check. A target that throws what it must not is a crash; one input running
 * longer than {@link #HANG} is a hang. Either fails the run, with the input saved under
 * {@code target/fuzz-failures/} and named in the message. The count of inputs tried and the time are printed
 * (the figure for RESULTS.md).
 *
 * <p>Budgets: {@link #CI} per target by default, as CI runs it; a test tagged {@code nightly} (excluded by
 * default: root pom property {@code test.excludedGroups}) runs {@link #nightly()}. {@code -Dwgcni.fuzz.seconds=N}
 * overrides both.
 */
public final class Fuzzer {
    public static final Duration CI = Duration.ofSeconds(60);
    public static final Duration HANG = Duration.ofSeconds(10);
    private static final byte[] INTERESTING = {0, 1, 0x7f, (byte) 0x80, (byte) 0xff, '=', '\n', '"', '{', '}',
        '[', ']', ':', ',', '/', '.', '-', '0', '9', 'a', 'z', ' '};

    /** What a target does with one input; anything it throws is a crash. */
    @FunctionalInterface
    public interface Target {
        void accept(byte[] input) throws Exception;
    }

    /** What a run tried. */
    public record Result(String target, long inputs, Duration elapsed, int seeds) {}

    private Fuzzer() {}

    /** The CI budget, or -Dwgcni.fuzz.seconds. */
    public static Duration ci() {
        return budget(CI);
    }

    /** The nightly budget (30 minutes), or -Dwgcni.fuzz.seconds. */
    public static Duration nightly() {
        return budget(Duration.ofMinutes(30));
    }

    private static Duration budget(Duration otherwise) {
        String s = System.getProperty("wgcni.fuzz.seconds");
        return s == null ? otherwise : Duration.ofSeconds(Long.parseLong(s));
    }

    /** The seeds under {@code fuzz/<name>/} on anchor's class path, in name order; fails when there are none. */
    public static List<byte[]> corpus(Class<?> anchor, String name) {
        List<byte[]> seeds = new ArrayList<>();
        try (InputStream index = anchor.getResourceAsStream("/fuzz/" + name + "/INDEX")) {
            if (index == null) {
                throw new AssertionError("no corpus: fuzz/" + name + "/INDEX is not on the class path");
            }
            for (String file : new String(index.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
                if (file.isBlank() || file.startsWith("#")) {
                    continue;
                }
                try (InputStream in = anchor.getResourceAsStream("/fuzz/" + name + "/" + file.strip())) {
                    if (in == null) {
                        throw new AssertionError("fuzz/" + name + "/INDEX names a missing file " + file);
                    }
                    seeds.add(in.readAllBytes());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (seeds.isEmpty()) {
            throw new AssertionError("fuzz/" + name + " has an empty corpus");
        }
        return seeds;
    }

    /**
     * Runs target on the seeds themselves, then on mutations of them until budget has passed. Seeded: the same
     * seed tries the same inputs (printed, so that a failure can be replayed).
     */
    public static Result run(String name, List<byte[]> seeds, Duration budget, long seed, Target target)
            throws InterruptedException {
        Random random = new Random(seed);
        AtomicLong tried = new AtomicLong();
        long[] startedAt = {0};
        byte[][] current = {null};
        Throwable[] failure = {null};
        long deadline = System.nanoTime() + budget.toNanos();
        Thread worker = Thread.ofPlatform().name("fuzz-" + name).daemon(true).start(() -> {
            int i = 0;
            while (System.nanoTime() < deadline) {
                byte[] input = i < seeds.size() ? seeds.get(i).clone() : mutate(seeds, random);
                i++;
                synchronized (current) {
                    current[0] = input;
                    startedAt[0] = System.nanoTime();
                }
                try {
                    target.accept(input.clone());
                } catch (Throwable e) {
                    synchronized (current) {
                        failure[0] = e;
                    }
                    return;
                }
                tried.incrementAndGet();
            }
        });
        long start = System.nanoTime();
        while (worker.isAlive()) {
            worker.join(100);
            synchronized (current) {
                if (failure[0] != null) {
                    break;
                }
                if (worker.isAlive() && System.nanoTime() - startedAt[0] > HANG.toNanos() && current[0] != null) {
                    throw new AssertionError("fuzz " + name + ": an input ran longer than " + HANG.toSeconds()
                            + " s (saved as " + save(name, "hang", current[0]) + ", seed " + seed + ")");
                }
            }
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
        if (failure[0] != null) {
            AssertionError e = new AssertionError("fuzz " + name + ": crash after " + tried.get() + " inputs on "
                    + save(name, "crash", current[0]) + " (seed " + seed + "): " + failure[0], failure[0]);
            throw e;
        }
        System.out.printf("fuzz %s: %,d inputs in %.1f s (%,d a second) from %d seeds, seed %d%n", name, tried.get(),
                elapsed.toMillis() / 1000.0, tried.get() * 1000 / Math.max(1, elapsed.toMillis()), seeds.size(), seed);
        return new Result(name, tried.get(), elapsed, seeds.size());
    }

    /** One mutation or a few stacked, of one seed (or two spliced). */
    static byte[] mutate(List<byte[]> seeds, Random r) {
        byte[] b = seeds.get(r.nextInt(seeds.size()));
        int rounds = 1 + r.nextInt(4);
        for (int k = 0; k < rounds; k++) {
            b = once(b, seeds, r);
        }
        return b;
    }

    private static byte[] once(byte[] b, List<byte[]> seeds, Random r) {
        int n = b.length;
        switch (r.nextInt(8)) {
            case 0 -> { // flip a bit
                if (n > 0) {
                    b = b.clone();
                    b[r.nextInt(n)] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 1 -> { // an interesting byte
                if (n > 0) {
                    b = b.clone();
                    b[r.nextInt(n)] = INTERESTING[r.nextInt(INTERESTING.length)];
                }
            }
            case 2 -> { // cut
                int at = n == 0 ? 0 : r.nextInt(n + 1);
                b = java.util.Arrays.copyOf(b, at);
            }
            case 3 -> { // delete a run
                if (n > 1) {
                    int from = r.nextInt(n);
                    int len = 1 + r.nextInt(Math.min(16, n - from));
                    byte[] out = new byte[n - len];
                    System.arraycopy(b, 0, out, 0, from);
                    System.arraycopy(b, from + len, out, from, n - from - len);
                    b = out;
                }
            }
            case 4 -> { // repeat a run
                if (n > 0 && n < 1 << 16) {
                    int from = r.nextInt(n);
                    int len = 1 + r.nextInt(Math.min(64, n - from));
                    int times = 1 + r.nextInt(r.nextInt(8) == 0 ? 200 : 4);
                    byte[] out = new byte[n + len * times];
                    System.arraycopy(b, 0, out, 0, from + len);
                    for (int t = 1; t <= times; t++) {
                        System.arraycopy(b, from, out, from + len * t, len);
                    }
                    System.arraycopy(b, from + len, out, from + len * (times + 1), n - from - len);
                    b = out;
                }
            }
            case 5 -> { // insert random bytes
                int at = r.nextInt(n + 1);
                byte[] extra = new byte[1 + r.nextInt(8)];
                r.nextBytes(extra);
                byte[] out = new byte[n + extra.length];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(extra, 0, out, at, extra.length);
                System.arraycopy(b, at, out, at + extra.length, n - at);
                b = out;
            }
            case 6 -> { // splice with another seed
                byte[] o = seeds.get(r.nextInt(seeds.size()));
                int at = r.nextInt(n + 1);
                int from = r.nextInt(o.length + 1);
                byte[] out = new byte[at + o.length - from];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(o, from, out, at, o.length - from);
                b = out;
            }
            default -> { // a digit run changed: lengths, ports, counts
                for (int i = 0; i < n; i++) {
                    if (b[i] >= '0' && b[i] <= '9' && r.nextInt(4) == 0) {
                        b = b.clone();
                        String big = switch (r.nextInt(4)) {
                            case 0 -> "0";
                            case 1 -> "65536";
                            case 2 -> "4294967296";
                            default -> "99999999999999999999";
                        };
                        byte[] digits = big.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                        byte[] out = new byte[n + digits.length];
                        System.arraycopy(b, 0, out, 0, i);
                        System.arraycopy(digits, 0, out, i, digits.length);
                        System.arraycopy(b, i, out, i + digits.length, n - i);
                        return out;
                    }
                }
            }
        }
        return b;
    }

    private static Path save(String name, String kind, byte[] input) {
        try {
            Path dir = Files.createDirectories(Path.of("target", "fuzz-failures"));
            Path file = dir.resolve(name + "-" + kind + "-" + Integer.toHexString(java.util.Arrays.hashCode(input)));
            Files.write(file, input);
            return file.toAbsolutePath();
        } catch (IOException e) {
            return Path.of("(not saved: " + e.getMessage() + ") " + HexFormat.of().formatHex(input, 0,
                    Math.min(input.length, 256)));
        }
    }
}
