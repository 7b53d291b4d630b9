package io.wgcni.wg.device;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** Why packets were dropped, counted per device. Dropping never throws; it increments one of these. */
public final class Stats {
    final LongAdder invalidMessage = new LongAdder();
    /** Data messages longer than the MTU allows, dropped before they were copied anywhere. */
    final LongAdder oversized = new LongAdder();
    final LongAdder badMac1 = new LongAdder();
    final LongAdder badHandshake = new LongAdder();
    final LongAdder cookieRepliesSent = new LongAdder();
    final LongAdder rateLimited = new LongAdder();
    final LongAdder unknownIndex = new LongAdder();
    final LongAdder expiredKeypair = new LongAdder();
    final LongAdder badTag = new LongAdder();
    final LongAdder replayed = new LongAdder();
    final LongAdder invalidInnerPacket = new LongAdder();
    final LongAdder disallowedSource = new LongAdder();
    final LongAdder noRoute = new LongAdder();
    final LongAdder noEndpoint = new LongAdder();
    final LongAdder queueFull = new LongAdder();
    final LongAdder sendErrors = new LongAdder();
    /** Bugs caught at a pipeline boundary (logged once each); any value above zero is worth a report. */
    final LongAdder internalErrors = new LongAdder();
    /** Not a drop: packets one peer sent to another, passed between them here ({@link Device#setForwarding}). */
    final LongAdder forwarded = new LongAdder();

    public long forwarded() {
        return forwarded.sum();
    }

    /** Every counter by name, in a stable order. */
    public Map<String, Long> snapshot() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("invalid_message", invalidMessage.sum());
        m.put("oversized", oversized.sum());
        m.put("bad_mac1", badMac1.sum());
        m.put("bad_handshake", badHandshake.sum());
        m.put("cookie_replies_sent", cookieRepliesSent.sum());
        m.put("rate_limited", rateLimited.sum());
        m.put("unknown_index", unknownIndex.sum());
        m.put("expired_keypair", expiredKeypair.sum());
        m.put("bad_tag", badTag.sum());
        m.put("replayed", replayed.sum());
        m.put("invalid_inner_packet", invalidInnerPacket.sum());
        m.put("disallowed_source", disallowedSource.sum());
        m.put("no_route", noRoute.sum());
        m.put("no_endpoint", noEndpoint.sum());
        m.put("queue_full", queueFull.sum());
        m.put("send_errors", sendErrors.sum());
        m.put("internal_errors", internalErrors.sum());
        return m;
    }

    /** Packets dropped for any reason on the receive side (malformed, unauthenticated, replayed). */
    public long receiveDrops() {
        return invalidMessage.sum() + oversized.sum() + badMac1.sum() + badHandshake.sum() + unknownIndex.sum()
            + expiredKeypair.sum() + badTag.sum() + replayed.sum() + invalidInnerPacket.sum() + disallowedSource.sum();
    }
}
