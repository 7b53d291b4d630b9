package io.wgcni.wg.crypto;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks {@link ChaChaPoly}'s implementation once per JVM: {@code jdk} where HotSpot intrinsifies Poly1305 (then the
 * JDK's whole AEAD is the fastest), {@code own} everywhere else.
 *
 * <ol>
 * <li>The system property {@value #PROPERTY}, {@code jdk} or {@code own}, wins. Another value is logged and ignored.
 * <li>Else the VM flag {@code UsePoly1305Intrinsics}, through {@link HotSpotDiagnosticMXBean}. It is a diagnostic
 * flag: the bean only shows it when the JVM runs with {@code -XX:+UnlockDiagnosticVMOptions}.
 * <li>Else (the usual case) the flag's default is inferred the way HotSpot sets it: on by default on AArch64; on
 * x86-64 only with AVX-512 IFMA (with AVX-512 VL and BW, {@code UseAVX} 3 and 64-byte vectors) or AVX-IFMA, CPU
 * flags read from {@code /proc/cpuinfo}, so Linux only.
 * <li>Anything unreadable or unknown: {@code own}, which is correct everywhere and never slower than the JDK's AEAD
 * with Java Poly1305.
 * </ol>
 */
final class AeadChoice {
    static final String PROPERTY = "wgcni.aead";
    private static final Logger log = LoggerFactory.getLogger(AeadChoice.class);

    private AeadChoice() {
    }

    static ChaChaPoly.Impl choose() {
        String forced = System.getProperty(PROPERTY);
        if (forced != null) {
            switch (forced.trim().toLowerCase(Locale.ROOT)) {
                case "jdk":
                    log.info("ChaCha20-Poly1305: the JDK's AEAD (-D{}={})", PROPERTY, forced);
                    return ChaChaPoly.Impl.JDK;
                case "own":
                    log.info("ChaCha20-Poly1305: JDK ChaCha20 with wg-core's Poly1305 (-D{}={})", PROPERTY, forced);
                    return ChaChaPoly.Impl.OWN;
                default:
                    log.warn("ignoring -D{}={}: expected jdk or own", PROPERTY, forced);
            }
        }
        if (jdkPoly1305Intrinsic()) {
            log.info("ChaCha20-Poly1305: the JDK's AEAD (its Poly1305 is intrinsified on this CPU)");
            return ChaChaPoly.Impl.JDK;
        }
        log.info("ChaCha20-Poly1305: JDK ChaCha20 with wg-core's Poly1305 (the JDK's Poly1305 is not known to be"
                + " intrinsified here)");
        return ChaChaPoly.Impl.OWN;
    }

    /** Whether the JDK's Poly1305 is intrinsified in this JVM, as far as can be told; false when unsure. */
    static boolean jdkPoly1305Intrinsic() {
        try {
            HotSpotDiagnosticMXBean hotSpot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            if (hotSpot == null) {
                return false;
            }
            String flag = vmOption(hotSpot, "UsePoly1305Intrinsics");
            if (flag != null) {
                return Boolean.parseBoolean(flag);
            }
            String arch = System.getProperty("os.arch", "");
            if (arch.equals("aarch64")) {
                return true;
            }
            if (!arch.equals("amd64") && !arch.equals("x86_64")) {
                return false;
            }
            Set<String> cpu = cpuFlags(Path.of("/proc/cpuinfo"));
            int useAvx = intOption(hotSpot, "UseAVX");
            int maxVector = intOption(hotSpot, "MaxVectorSize");
            return x86Poly1305Intrinsic(cpu, useAvx, maxVector);
        } catch (RuntimeException | LinkageError e) {
            // No java.management / jdk.management in this runtime, or a JVM that is not HotSpot.
            return false;
        }
    }

    /** HotSpot's x86-64 condition for UsePoly1305Intrinsics' default (JDK 25). */
    static boolean x86Poly1305Intrinsic(Set<String> cpuFlags, int useAvx, int maxVectorSize) {
        boolean avx512Ifma = cpuFlags.containsAll(List.of("avx512ifma", "avx512vl", "avx512bw"))
                && useAvx >= 3 && maxVectorSize >= 64;
        boolean avxIfma = cpuFlags.contains("avx_ifma") && useAvx >= 2;
        return avx512Ifma || avxIfma;
    }

    /** The "flags" of the first processor in a /proc/cpuinfo; empty when unreadable. */
    static Set<String> cpuFlags(Path cpuinfo) {
        try (Stream<String> lines = Files.lines(cpuinfo, StandardCharsets.US_ASCII)) {
            return lines.filter(l -> l.startsWith("flags"))
                    .findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).trim())
                    .map(l -> Arrays.stream(l.split("\\s+")).collect(Collectors.toUnmodifiableSet()))
                    .orElse(Set.of());
        } catch (IOException | RuntimeException e) {
            return Set.of();
        }
    }

    private static String vmOption(HotSpotDiagnosticMXBean hotSpot, String name) {
        try {
            return hotSpot.getVMOption(name).getValue();
        } catch (IllegalArgumentException notShown) {
            return null; // unknown, or a locked diagnostic flag
        }
    }

    private static int intOption(HotSpotDiagnosticMXBean hotSpot, String name) {
        String value = vmOption(hotSpot, name);
        try {
            return value == null ? -1 : Integer.parseInt(value);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
