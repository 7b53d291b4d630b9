package io.wgcni.wg.device;

import io.wgcni.wg.noise.Handshake;
import io.wgcni.wg.noise.Keypair;

/** What a receiver index names: a peer's handshake in flight, or one of its sessions. */
record IndexEntry(Peer peer, Handshake handshake, Keypair keypair) {}
