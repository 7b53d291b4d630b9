package io.wgcni.wg.device;

import static io.wgcni.wg.noise.Protocol.KEEPALIVE_TIMEOUT;
import static io.wgcni.wg.noise.Protocol.MAX_TIMER_HANDSHAKES;
import static io.wgcni.wg.noise.Protocol.REJECT_AFTER_TIME;
import static io.wgcni.wg.noise.Protocol.REKEY_TIMEOUT;
import static io.wgcni.wg.noise.Protocol.REKEY_TIMEOUT_JITTER_MAX;

import io.wgcni.wg.time.Clock;
import io.wgcni.wg.time.Timer;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A peer's timers: a port of the kernel's timers.c. Five timers and the events that arm and disarm them; the
 * whole policy is on this screen.
 *
 * <pre>
 * retransmitHandshake  initiation sent, no response yet: resend every REKEY_TIMEOUT (+jitter), give up after
 *                      MAX_TIMER_HANDSHAKES attempts (REKEY_ATTEMPT_TIME)
 * sendKeepalive        data received, nothing sent back: send a keepalive after KEEPALIVE_TIMEOUT
 * newHandshake         data sent, nothing received: handshake again after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT
 * zeroKeyMaterial      no new session for 3 * REJECT_AFTER_TIME: erase every key
 * persistentKeepalive  nothing sent or received for the configured interval: send a keepalive
 * </pre>
 */
final class Timers {
    private final Peer peer;
    private final Timer retransmitHandshake;
    private final Timer sendKeepalive;
    private final Timer newHandshake;
    private final Timer zeroKeyMaterial;
    private final Timer persistentKeepalive;
    private int handshakeAttempts;
    private boolean needAnotherKeepalive;
    private boolean sentLastMinuteHandshake;

    Timers(Peer peer, Clock clock) {
        this.peer = peer;
        retransmitHandshake = new Timer(clock, this::expiredRetransmitHandshake);
        sendKeepalive = new Timer(clock, this::expiredSendKeepalive);
        newHandshake = new Timer(clock, this::expiredNewHandshake);
        zeroKeyMaterial = new Timer(clock, this::expiredZeroKeyMaterial);
        persistentKeepalive = new Timer(clock, this::expiredPersistentKeepalive);
    }

    private static long jitter() {
        return ThreadLocalRandom.current().nextLong(REKEY_TIMEOUT_JITTER_MAX);
    }

    private void expiredRetransmitHandshake() {
        if (!peer.isRunning()) {
            return;
        }
        boolean giveUp;
        synchronized (this) {
            giveUp = handshakeAttempts > MAX_TIMER_HANDSHAKES;
            if (!giveUp) {
                handshakeAttempts++;
            }
        }
        if (giveUp) {
            sendKeepalive.del();
            peer.dropStaged();
            if (!zeroKeyMaterial.isPending()) {
                zeroKeyMaterial.mod(REJECT_AFTER_TIME * 3);
            }
        } else {
            peer.sendHandshakeInitiation(true);
        }
    }

    private void expiredSendKeepalive() {
        if (!peer.isRunning()) {
            return;
        }
        peer.sendKeepalive();
        boolean again;
        synchronized (this) {
            again = needAnotherKeepalive;
            needAnotherKeepalive = false;
        }
        if (again) {
            sendKeepalive.mod(KEEPALIVE_TIMEOUT);
        }
    }

    private void expiredNewHandshake() {
        if (peer.isRunning()) {
            peer.sendHandshakeInitiation(false);
        }
    }

    private void expiredZeroKeyMaterial() {
        peer.zeroKeyMaterial();
    }

    private void expiredPersistentKeepalive() {
        if (peer.isRunning() && peer.persistentKeepaliveInterval() > 0) {
            peer.sendKeepalive();
        }
    }

    /** After an authenticated data packet is sent. */
    void dataSent() {
        if (!newHandshake.isPending()) {
            newHandshake.mod(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter());
        }
    }

    /** After an authenticated data packet is received. */
    void dataReceived() {
        if (!sendKeepalive.isPending()) {
            sendKeepalive.mod(KEEPALIVE_TIMEOUT);
        } else {
            synchronized (this) {
                needAnotherKeepalive = true;
            }
        }
    }

    /** After any authenticated packet is sent: keepalive, data or handshake. */
    void anyAuthenticatedPacketSent() {
        sendKeepalive.del();
    }

    /** After any authenticated packet is received: keepalive, data or handshake. */
    void anyAuthenticatedPacketReceived() {
        newHandshake.del();
    }

    /** After a handshake initiation is sent. */
    void handshakeInitiated() {
        retransmitHandshake.mod(REKEY_TIMEOUT + jitter());
    }

    /** After a response is consumed, or on key confirmation by the first data message. */
    void handshakeComplete() {
        retransmitHandshake.del();
        synchronized (this) {
            handshakeAttempts = 0;
            sentLastMinuteHandshake = false;
        }
        peer.recordHandshakeTime();
    }

    /** After a session's keys are derived: before sending a response, after consuming one. */
    void sessionDerived() {
        zeroKeyMaterial.mod(REJECT_AFTER_TIME * 3);
    }

    /** Before sending, or after receiving, any authenticated packet. */
    void anyAuthenticatedPacketTraversal() {
        int interval = peer.persistentKeepaliveInterval();
        if (interval > 0) {
            persistentKeepalive.mod(interval * 1_000_000_000L);
        }
    }

    /** A fresh (non-retry) initiation resets the attempt count. */
    synchronized void resetHandshakeAttempts() {
        handshakeAttempts = 0;
    }

    /** The receive path's "last minute" rekey happens once per session. */
    synchronized boolean claimLastMinuteHandshake() {
        if (sentLastMinuteHandshake) {
            return false;
        }
        sentLastMinuteHandshake = true;
        return true;
    }

    synchronized int handshakeAttempts() {
        return handshakeAttempts;
    }

    /** The peer stops (removed, or its device down): cancelled, not just disarmed, so the clock holds none of it. */
    void stop() {
        retransmitHandshake.cancel();
        sendKeepalive.cancel();
        newHandshake.cancel();
        zeroKeyMaterial.cancel();
        persistentKeepalive.cancel();
        synchronized (this) {
            handshakeAttempts = 0;
            needAnotherKeepalive = false;
            sentLastMinuteHandshake = false;
        }
    }
}
