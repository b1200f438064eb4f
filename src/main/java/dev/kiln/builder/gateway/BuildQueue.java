package dev.kiln.builder.gateway;

import dev.kiln.builder.sandbox.Cancellation;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Admission for the gateway's builds: who waits (in submission order), who holds one of the
 * {@code maxConcurrent} slots, and how many builds each submitter has queued or running, against
 * {@code kiln.builds.limits.max-queued-per-user}. Bookkeeping only, no I/O; not thread-safe: the
 * {@link BuildService} guards it with its own lock, together with the records it saves.
 */
final class BuildQueue {
    /** A build given a slot, to be started with its cancellation. */
    record Start(String id, BuildRunner.Caller caller, Cancellation cancellation) {
    }

    private final int maxConcurrent;
    private final int maxPerOwner;
    private final LinkedHashMap<String, BuildRunner.Caller> waiting = new LinkedHashMap<>();
    private final Map<String, Cancellation> running = new LinkedHashMap<>();
    private final Map<String, String> owners = new HashMap<>();

    BuildQueue(int maxConcurrent, int maxPerOwner) {
        if (maxConcurrent < 1) {
            throw new IllegalArgumentException("at least one build must be allowed to run, not " + maxConcurrent);
        }
        this.maxConcurrent = maxConcurrent;
        this.maxPerOwner = maxPerOwner;
    }

    /** Refuses (429) a submitter who has the most builds allowed queued or running; admits nothing. */
    void checkRoom(BuildRunner.Caller caller) {
        String owner = owner(caller);
        long mine = owners.values().stream().filter(owner::equals).count();
        if (mine >= maxPerOwner) {
            throw new BuildRequestException(429, "too-many-builds", "Too many builds",
                    (owner.isEmpty() ? "anonymous submitters have " : "you have ") + mine
                            + " builds queued or running, the most allowed (kiln.builds.limits.max-queued-per-user); "
                            + "wait for one to end");
        }
    }

    /** Puts a build at the end of the queue. */
    void add(String id, BuildRunner.Caller caller) {
        owners.put(id, owner(caller));
        waiting.put(id, caller);
    }

    /** A build already running when the gateway started (followed again), holding a slot. */
    Cancellation resumed(String id) {
        Cancellation cancellation = new Cancellation();
        running.put(id, cancellation);
        return cancellation;
    }

    /** Takes builds off the queue, in order, while slots are free. */
    List<Start> startable() {
        List<Start> started = new ArrayList<>();
        while (running.size() < maxConcurrent && !waiting.isEmpty()) {
            Map.Entry<String, BuildRunner.Caller> next = waiting.entrySet().iterator().next();
            waiting.remove(next.getKey());
            Cancellation cancellation = new Cancellation();
            running.put(next.getKey(), cancellation);
            started.add(new Start(next.getKey(), next.getValue(), cancellation));
        }
        return started;
    }

    /** Takes a waiting build out of the queue; false when it was not waiting. */
    boolean removeWaiting(String id) {
        if (!waiting.containsKey(id)) {
            return false;
        }
        waiting.remove(id); // its caller may be null: the key says whether it waited
        owners.remove(id);
        return true;
    }

    /** Empties the queue, returning the ids that were waiting, in order. */
    List<String> drainWaiting() {
        List<String> ids = new ArrayList<>(waiting.keySet());
        ids.forEach(this::removeWaiting);
        return ids;
    }

    /** A running build ended: its slot and its count against its submitter are free. */
    void finished(String id) {
        running.remove(id);
        owners.remove(id);
    }

    /** The running build's cancellation, null when it is not running. */
    Cancellation cancellation(String id) {
        return running.get(id);
    }

    List<Cancellation> runningCancellations() {
        return List.copyOf(running.values());
    }

    /** 1 for the next build to start, 0 when the build is not waiting. */
    int position(String id) {
        int position = 1;
        for (String waitingId : waiting.keySet()) {
            if (waitingId.equals(id)) {
                return position;
            }
            position++;
        }
        return 0;
    }

    int waiting() {
        return waiting.size();
    }

    int running() {
        return running.size();
    }

    /** Whose build it is, for the per-submitter limit: the user name it authenticated with, else "". */
    private static String owner(BuildRunner.Caller caller) {
        return caller == null || caller.credentials() == null || caller.credentials().username() == null ? ""
                : caller.credentials().username();
    }
}
