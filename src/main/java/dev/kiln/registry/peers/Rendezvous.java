package dev.kiln.registry.peers;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collection;

/**
 * Highest-random-weight hashing: every replica computes the same owner for a key from the same
 * member list, with no coordination, and when a member leaves only the keys it owned move (about
 * 1/N of them). SHA-256 rather than {@code hashCode} because every JVM must agree on the weights.
 */
public final class Rendezvous {
    private Rendezvous() {
    }

    /** The member with the highest weight for {@code key}; ties (practically impossible) go to the smaller name. */
    public static String owner(String key, Collection<String> members) {
        if (members.isEmpty()) {
            throw new IllegalArgumentException("no members to choose an owner of " + key + " from");
        }
        String best = null;
        long bestWeight = 0;
        for (String member : members) {
            long weight = weight(member, key);
            if (best == null || Long.compareUnsigned(weight, bestWeight) > 0
                    || weight == bestWeight && member.compareTo(best) < 0) {
                best = member;
                bestWeight = weight;
            }
        }
        return best;
    }

    static long weight(String member, String key) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(member.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(key.getBytes(StandardCharsets.UTF_8));
            return ByteBuffer.wrap(sha.digest()).getLong();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
