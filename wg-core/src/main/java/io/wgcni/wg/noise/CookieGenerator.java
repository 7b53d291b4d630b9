package io.wgcni.wg.noise;

import io.wgcni.wg.crypto.Blake2s;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.XChaChaPoly;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The initiator's half of the cookie mechanism: adds MAC1 (keyed by the peer's public key) to every handshake
 * message we send, remembers the last MAC1 so a cookie reply to it can be authenticated (once: the kernel forgets
 * it after a reply, so a replayed or second reply is refused), and adds MAC2 with the peer's cookie while that
 * cookie is younger than {@link #COOKIE_LIFETIME}.
 */
public final class CookieGenerator {
    /**
     * The kernel's COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY: the responder changes its secret every two
     * minutes, so a cookie stops being sent a little before, not to arrive under a secret already gone.
     */
    public static final long COOKIE_LIFETIME = Protocol.COOKIE_REFRESH_TIME - 5_000_000_000L;

    private final byte[] mac1Key = new byte[32];
    private final byte[] cookieKey = new byte[32];
    private final byte[] cookie = new byte[Protocol.MAC_LENGTH];
    private final byte[] lastMac1 = new byte[Protocol.MAC_LENGTH];
    private boolean hasLastMac1;
    private boolean hasCookie;
    private long cookieSet;

    public CookieGenerator(Key remoteStatic) {
        byte[] pk = remoteStatic.bytes();
        Blake2s.hash(mac1Key, Protocol.LABEL_MAC1.getBytes(StandardCharsets.US_ASCII), pk);
        Blake2s.hash(cookieKey, Protocol.LABEL_COOKIE.getBytes(StandardCharsets.US_ASCII), pk);
    }

    /** Fills in MAC1 and MAC2 of the handshake message {@code msg[off, off + len)}. */
    public synchronized void addMacs(byte[] msg, int off, int len, long now) {
        int mac1 = off + len - 2 * Protocol.MAC_LENGTH;
        int mac2 = mac1 + Protocol.MAC_LENGTH;
        Blake2s.mac(lastMac1, mac1Key, msg, off, mac1 - off);
        System.arraycopy(lastMac1, 0, msg, mac1, Protocol.MAC_LENGTH);
        hasLastMac1 = true;
        if (hasCookie && now - cookieSet < COOKIE_LIFETIME) {
            byte[] mac = new byte[Protocol.MAC_LENGTH];
            Blake2s.mac(mac, cookie, msg, off, mac2 - off);
            System.arraycopy(mac, 0, msg, mac2, Protocol.MAC_LENGTH);
        } else {
            Arrays.fill(msg, mac2, mac2 + Protocol.MAC_LENGTH, (byte) 0);
        }
    }

    /** Decrypts and stores the cookie of a cookie reply to our last handshake message; false if it is not one. */
    public synchronized boolean consumeReply(byte[] msg, int off, long now) {
        if (!hasLastMac1) {
            return false;
        }
        byte[] nonce = Arrays.copyOfRange(msg, off + Protocol.CookieReply.NONCE,
            off + Protocol.CookieReply.NONCE + Protocol.COOKIE_NONCE_LENGTH);
        byte[] sealed = Arrays.copyOfRange(msg, off + Protocol.CookieReply.COOKIE, off + Protocol.CookieReply.SIZE);
        byte[] opened = XChaChaPoly.open(cookieKey, nonce, sealed, lastMac1);
        if (opened == null) {
            return false;
        }
        System.arraycopy(opened, 0, cookie, 0, Protocol.MAC_LENGTH);
        Arrays.fill(opened, (byte) 0);
        hasCookie = true;
        cookieSet = now;
        hasLastMac1 = false;
        return true;
    }
}
