package dev.kiln.builder.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.registry.client.Credentials;
import java.util.List;
import org.junit.jupiter.api.Test;

class BuildQueueTest {
    private static BuildRunner.Caller user(String name) {
        return new BuildRunner.Caller(List.of(), new Credentials(name, "secret"));
    }

    private static List<String> ids(List<BuildQueue.Start> starts) {
        return starts.stream().map(BuildQueue.Start::id).toList();
    }

    @Test
    void buildsStartInSubmissionOrderAsSlotsFreeUp() {
        BuildQueue queue = new BuildQueue(2, 10);
        for (String id : List.of("a", "b", "c", "d")) {
            queue.add(id, null);
        }
        assertEquals(List.of("a", "b"), ids(queue.startable()));
        assertEquals(List.of(), ids(queue.startable()), "no slot is free");
        assertEquals(1, queue.position("c"));
        assertEquals(2, queue.position("d"));
        assertEquals(0, queue.position("a"), "a running build does not wait");
        queue.finished("b");
        assertEquals(List.of("c"), ids(queue.startable()));
        assertEquals(2, queue.running());
        assertEquals(1, queue.waiting());
    }

    @Test
    void eachStartedBuildHasItsOwnCancellationUntilItFinishes() {
        BuildQueue queue = new BuildQueue(2, 10);
        queue.add("a", null);
        queue.add("b", null);
        List<BuildQueue.Start> started = queue.startable();
        started.get(0).cancellation().cancel();
        assertTrue(queue.cancellation("a").isCancelled());
        assertFalse(queue.cancellation("b").isCancelled());
        assertEquals(2, queue.runningCancellations().size());
        queue.finished("a");
        assertNull(queue.cancellation("a"));
    }

    @Test
    void aSubmitterPastTheLimitIsRefusedWithTooManyBuildsCountingWaitingAndRunning() {
        BuildQueue queue = new BuildQueue(1, 2);
        queue.checkRoom(user("ann"));
        queue.add("a1", user("ann"));
        queue.add("a2", user("ann"));
        queue.startable(); // a1 runs, a2 waits: both count
        BuildRequestException refused = assertThrows(BuildRequestException.class, () -> queue.checkRoom(user("ann")));
        assertEquals(429, refused.status());
        assertTrue(refused.getMessage().contains("you have 2 builds"), refused.getMessage());
        queue.checkRoom(user("bob")); // others are not held back by ann's builds
        queue.finished("a1");
        queue.checkRoom(user("ann"));
    }

    @Test
    void anonymousSubmittersShareOneCount() {
        BuildQueue queue = new BuildQueue(1, 1);
        queue.add("x", null);
        BuildRequestException refused = assertThrows(BuildRequestException.class,
                () -> queue.checkRoom(new BuildRunner.Caller(List.of(), null)));
        assertTrue(refused.getMessage().startsWith("anonymous submitters have 1"), refused.getMessage());
    }

    @Test
    void aWaitingBuildTakenOutNoLongerCountsNorStarts() {
        BuildQueue queue = new BuildQueue(1, 1);
        queue.add("a", user("ann"));
        assertTrue(queue.removeWaiting("a"));
        assertFalse(queue.removeWaiting("a"));
        queue.checkRoom(user("ann"));
        assertEquals(List.of(), queue.startable());
    }

    @Test
    void drainingEmptiesTheQueueInOrderAndLeavesRunningBuilds() {
        BuildQueue queue = new BuildQueue(1, 10);
        queue.add("a", null);
        queue.add("b", null);
        queue.add("c", null);
        queue.startable();
        assertEquals(List.of("b", "c"), queue.drainWaiting());
        assertEquals(0, queue.waiting());
        assertNotNull(queue.cancellation("a"));
    }

    @Test
    void aBuildFollowedAgainAfterARestartHoldsASlot() {
        BuildQueue queue = new BuildQueue(1, 10);
        queue.resumed("old");
        queue.add("new", null);
        assertEquals(List.of(), queue.startable());
        queue.finished("old");
        assertEquals(List.of("new"), ids(queue.startable()));
    }

    @Test
    void atLeastOneSlot() {
        assertThrows(IllegalArgumentException.class, () -> new BuildQueue(0, 1));
    }
}
