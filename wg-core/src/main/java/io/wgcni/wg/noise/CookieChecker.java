package io.wgcni.wg.noise;

import io.wgcni.wg.crypto.Blake2s;
import io.wgcni.wg.crypto.ConstantTime;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.XChaChaPoly;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The responder's half of the cookie mechanism (whitepaper 5.4.7): checks MAC1 of every handshake message, and
 * under load MAC2, which proves the sender owns its source address; answers with cookie replies. The cookie
 * secret is random and replaced every COOKIE_REFRESH_TIME.
 */
public final class CookieChecker {
    private final SecureRandom random = new SecureRandom();
    private final byte[] mac1Key = new byte[32];
    private final byte[] cookieKey = new byte[32];
    private final byte[] secret = new byte[32];
    private long secretSet;
    private boolean hasSecret;
    private boolean configured;

    /** Derives the MAC1 and cookie encryption keys from our public key; null disables the checker. */
    public synchronized void init(Key publicKey) {
        configured = publicKey != null;
        if (!configured) {
            return;
        }
        byte[] pk = publicKey.bytes();
        Blake2s.hash(mac1Key, Protocol.LABEL_MAC1.getBytes(StandardCharsets.US_ASCII), pk);
        Blake2s.hash(cookieKey, Protocol.LABEL_COOKIE.getBytes(StandardCharsets.US_ASCII), pk);
        hasSecret = false;
    }

    /** MAC1 over a whole handshake message {@code msg[off, off + len)}. */
    public boolean checkMac1(byte[] msg, int off, int len) {
        byte[] key;
        synchronized (this) {
            if (!configured) {
                return false;
            }
            key = mac1Key.clone();
        }
        int mac1 = off + len - 2 * Protocol.MAC_LENGTH;
        byte[] expected = new byte[Protocol.MAC_LENGTH];
        Blake2s.mac(expected, key, msg, off, mac1 - off);
        return ConstantTime.equals(expected, 0, msg, mac1, Protocol.MAC_LENGTH);
    }

    /** MAC2: keyed with the cookie we would give {@code source} now (its address bytes and port). */
    public boolean checkMac2(byte[] msg, int off, int len, byte[] source, long now) {
        byte[] cookie = new byte[Protocol.MAC_LENGTH];
        synchronized (this) {
            if (!configured || !hasSecret || now - secretSet > Protocol.COOKIE_REFRESH_TIME) {
                return false;
            }
            Blake2s.mac(cookie, secret, source, 0, source.length);
        }
        int mac2 = off + len - Protocol.MAC_LENGTH;
        byte[] expected = new byte[Protocol.MAC_LENGTH];
        Blake2s.mac(expected, cookie, msg, off, mac2 - off);
        return ConstantTime.equals(expected, 0, msg, mac2, Protocol.MAC_LENGTH);
    }

    /**
     * Writes a cookie reply to the handshake message {@code msg} (whose sender index is {@code receiver}) into
     * {@code out[outOff, outOff + 64)}: the cookie for {@code source}, encrypted with the message's MAC1 as AD.
     */
    public boolean createReply(byte[] msg, int off, int len, int receiver, byte[] source, long now,
                               byte[] out, int outOff) {
        byte[] cookie = new byte[Protocol.MAC_LENGTH];
        byte[] key;
        synchronized (this) {
            if (!configured) {
                return false;
            }
            if (!hasSecret || now - secretSet > Protocol.COOKIE_REFRESH_TIME) {
                random.nextBytes(secret);
                secretSet = now;
                hasSecret = true;
            }
            Blake2s.mac(cookie, secret, source, 0, source.length);
            key = cookieKey.clone();
        }
        byte[] nonce = new byte[Protocol.COOKIE_NONCE_LENGTH];
        random.nextBytes(nonce);
        int mac1 = off + len - 2 * Protocol.MAC_LENGTH;
        byte[] ad = Arrays.copyOfRange(msg, mac1, mac1 + Protocol.MAC_LENGTH);
        byte[] sealed = XChaChaPoly.seal(key, nonce, cookie, ad);
        Protocol.putInt(out, outOff, Protocol.TYPE_COOKIE_REPLY);
        Protocol.putInt(out, outOff + Protocol.CookieReply.RECEIVER, receiver);
        System.arraycopy(nonce, 0, out, outOff + Protocol.CookieReply.NONCE, nonce.length);
        System.arraycopy(sealed, 0, out, outOff + Protocol.CookieReply.COOKIE, sealed.length);
        return true;
    }
}
