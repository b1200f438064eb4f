package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.testkit.Slowness;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class UrlHandlerWarmUpTest {
    @Test
    void theCommandsThatTalkToRegistriesResolveTheUrlHandlersOnADaemonThreadThatEnds() throws InterruptedException {
        for (String command : new String[] {"build", "warm"}) {
            Thread thread = UrlHandlerWarmUp.startFor(new String[] {command, "-c", "."}).orElseThrow(() -> new AssertionError(command));
            assertTrue(thread.isDaemon(), "it never keeps the process alive: " + command);
            thread.join(Slowness.scale(Duration.ofSeconds(30)).toMillis());
            assertFalse(thread.isAlive(), "the warm-up ended: " + command);
        }
    }

    @Test
    void otherCommandsStartNothing() {
        for (String[] args : new String[][] {{"serve"}, {"fsck"}, {"gc"}, {"submit", "."}, {"--help"}, {}}) {
            assertTrue(UrlHandlerWarmUp.startFor(args).isEmpty(), String.join(" ", args));
        }
    }
}
