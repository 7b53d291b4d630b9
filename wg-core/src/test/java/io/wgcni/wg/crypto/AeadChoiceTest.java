package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AeadChoiceTest {
    @Test
    void thePropertyWinsAndABadValueIsIgnored() {
        String before = System.getProperty(AeadChoice.PROPERTY);
        try {
            System.setProperty(AeadChoice.PROPERTY, "own");
            assertEquals(ChaChaPoly.Impl.OWN, AeadChoice.choose());
            System.setProperty(AeadChoice.PROPERTY, " JDK ");
            assertEquals(ChaChaPoly.Impl.JDK, AeadChoice.choose());
            System.setProperty(AeadChoice.PROPERTY, "fastest");
            ChaChaPoly.Impl detected = AeadChoice.jdkPoly1305Intrinsic() ? ChaChaPoly.Impl.JDK : ChaChaPoly.Impl.OWN;
            assertEquals(detected, AeadChoice.choose());
        } finally {
            if (before == null) {
                System.clearProperty(AeadChoice.PROPERTY);
            } else {
                System.setProperty(AeadChoice.PROPERTY, before);
            }
        }
    }

    @Test
    void x86NeedsAvx512IfmaWithWideVectorsOrAvxIfma() {
        Set<String> avx2Only = Set.of("avx", "avx2", "bmi2", "adx");
        Set<String> avx512 = Set.of("avx2", "avx512f", "avx512ifma", "avx512vl", "avx512bw");
        Set<String> avx512NoIfma = Set.of("avx2", "avx512f", "avx512vl", "avx512bw");
        Set<String> avxIfma = Set.of("avx2", "avx_ifma");
        assertFalse(AeadChoice.x86Poly1305Intrinsic(avx2Only, 2, 32));
        assertTrue(AeadChoice.x86Poly1305Intrinsic(avx512, 3, 64));
        assertFalse(AeadChoice.x86Poly1305Intrinsic(avx512, 2, 32)); // -XX:UseAVX=2
        assertFalse(AeadChoice.x86Poly1305Intrinsic(avx512, 3, 32)); // -XX:MaxVectorSize=32
        assertFalse(AeadChoice.x86Poly1305Intrinsic(avx512NoIfma, 3, 64));
        assertTrue(AeadChoice.x86Poly1305Intrinsic(avxIfma, 2, 32));
        assertFalse(AeadChoice.x86Poly1305Intrinsic(avxIfma, 1, 16));
    }

    @Test
    void readsTheFirstFlagsLineOfCpuinfo(@TempDir Path dir) throws IOException {
        Path cpuinfo = dir.resolve("cpuinfo");
        Files.writeString(cpuinfo, """
                processor\t: 0
                model name\t: AMD EPYC
                flags\t\t: fpu sse2 avx2 bmi2 adx
                bugs\t\t: sysret_ss_attrs

                processor\t: 1
                flags\t\t: fpu avx512ifma
                """);
        assertEquals(Set.of("fpu", "sse2", "avx2", "bmi2", "adx"), AeadChoice.cpuFlags(cpuinfo));
        assertEquals(Set.of(), AeadChoice.cpuFlags(dir.resolve("missing")));
    }
}
