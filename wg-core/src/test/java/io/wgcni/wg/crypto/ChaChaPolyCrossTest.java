package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.SplittableRandom;
import javax.crypto.SecretKey;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.modes.ChaCha20Poly1305;
import org.bouncycastle.crypto.params.AEADParameters;
import org.bouncycastle.crypto.params.KeyParameter;

/** Both implementations give BouncyCastle's bytes, and each opens what the other sealed. */
class ChaChaPolyCrossTest {
    private final ChaChaPoly jdk = new ChaChaPoly(ChaChaPoly.Impl.JDK);
    private final ChaChaPoly own = new ChaChaPoly(ChaChaPoly.Impl.OWN);

    @Property(tries = 300)
    void bothImplementationsMatchBouncyCastle(@ForAll @IntRange(min = 0, max = 2000) int length,
            @ForAll @IntRange(min = -1, max = 100) int adLength, @ForAll long seed) throws InvalidCipherTextException {
        SplittableRandom random = new SplittableRandom(seed);
        byte[] rawKey = new byte[32];
        random.nextBytes(rawKey);
        byte[] nonce = new byte[12];
        random.nextBytes(nonce);
        byte[] ad = adLength < 0 ? null : new byte[adLength];
        if (ad != null) {
            random.nextBytes(ad);
        }
        byte[] plain = new byte[length];
        random.nextBytes(plain);

        ChaCha20Poly1305 bc = new ChaCha20Poly1305();
        bc.init(true, new AEADParameters(new KeyParameter(rawKey), 128, nonce, ad));
        byte[] expected = new byte[length + 16];
        int n = bc.processBytes(plain, 0, length, expected, 0);
        bc.doFinal(expected, n);

        SecretKey key = ChaChaPoly.key(rawKey);
        byte[] viaJdk = new byte[length + 16];
        byte[] viaOwn = new byte[3 + length + 16];
        jdk.seal(key, nonce, plain, 0, length, viaJdk, 0, ad);
        own.seal(key, nonce, plain, 0, length, viaOwn, 3, ad);
        assertArrayEquals(expected, viaJdk);
        assertArrayEquals(expected, Arrays.copyOfRange(viaOwn, 3, viaOwn.length));

        byte[] opened = new byte[length];
        assertEquals(length, own.open(key, nonce, viaJdk, 0, viaJdk.length, opened, 0, ad));
        assertArrayEquals(plain, opened);
        // In place.
        assertEquals(length, jdk.open(key, nonce, viaOwn, 3, length + 16, viaOwn, 3, ad));
        assertArrayEquals(plain, Arrays.copyOfRange(viaOwn, 3, 3 + length));
    }
}
