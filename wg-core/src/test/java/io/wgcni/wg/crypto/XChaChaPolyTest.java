package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.HexFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/** XChaChaPoly seals through ChaChaPoly's static methods: every case against both implementations. */
@ParameterizedClass(name = "{0}")
@EnumSource(ChaChaPoly.Impl.class)
class XChaChaPolyTest {
    private static final HexFormat HEX = HexFormat.of();

    private final ChaChaPoly.Impl impl;

    XChaChaPolyTest(ChaChaPoly.Impl impl) {
        this.impl = impl;
    }

    @BeforeEach
    void useImplForStatics() {
        ChaChaPoly.useOnThisThread(impl);
    }

    @AfterEach
    void restoreDefault() {
        ChaChaPoly.useOnThisThread(null);
    }

    @Test
    void hChaCha20DraftSection221() {
        byte[] key = new byte[32];
        for (int i = 0; i < 32; i++) {
            key[i] = (byte) i;
        }
        byte[] out = new byte[32];
        XChaChaPoly.hChaCha20(out, key, HEX.parseHex("000000090000004a0000000031415927"));
        assertEquals("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc", HEX.formatHex(out));
    }

    @Test
    void draftAppendixA31() {
        byte[] key = ChaChaPolyTest.key80();
        byte[] nonce = HEX.parseHex("404142434445464748494a4b4c4d4e4f5051525354555657");
        byte[] sealed = XChaChaPoly.seal(key, nonce, ChaChaPolyTest.SUNSCREEN, ChaChaPolyTest.RFC_AD);
        assertEquals("bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
                + "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
                + "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
                + "21f9664c97637da9768812f615c68b13b52e"
                + "c0875924c1c7987947deafd8780acf49", HEX.formatHex(sealed));
        assertArrayEquals(ChaChaPolyTest.SUNSCREEN, XChaChaPoly.open(key, nonce, sealed, ChaChaPolyTest.RFC_AD));
    }

    @Test
    void rejectsTampering() {
        byte[] key = ChaChaPolyTest.key80();
        byte[] nonce = new byte[24];
        byte[] sealed = XChaChaPoly.seal(key, nonce, new byte[16], null);
        assertArrayEquals(new byte[16], XChaChaPoly.open(key, nonce, sealed, null));

        byte[] badNonce = nonce.clone();
        badNonce[2] ^= 1; // in the HChaCha20 half
        assertNull(XChaChaPoly.open(key, badNonce, sealed, null));
        badNonce = nonce.clone();
        badNonce[20] ^= 1; // in the ChaCha20 half
        assertNull(XChaChaPoly.open(key, badNonce, sealed, null));

        sealed[sealed.length - 1] ^= 1;
        assertNull(XChaChaPoly.open(key, nonce, sealed, null));
        assertNull(XChaChaPoly.open(key, nonce, new byte[15], null));
    }
}
