package dev.kiln.app.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

class KilnMainTest {
    @Test
    void anExecutorContainerTakesKanikosFlagsWithoutASubcommand() {
        assertArrayEquals(new String[] {"build", "--dockerfile=Dockerfile", "--destination=r/a:1"},
                KilnMain.withImplicitBuild(new String[] {"--dockerfile=Dockerfile", "--destination=r/a:1"}, "1"));
    }

    @Test
    void aSubcommandOrATopLevelOptionIsKeptInAnExecutorContainer() {
        assertArrayEquals(new String[] {"serve", "--port", "5000"}, KilnMain.withImplicitBuild(new String[] {"serve", "--port", "5000"}, "1"));
        assertArrayEquals(new String[] {"build", "-c", "."}, KilnMain.withImplicitBuild(new String[] {"build", "-c", "."}, "1"));
        assertArrayEquals(new String[] {"--version"}, KilnMain.withImplicitBuild(new String[] {"--version"}, "1"));
        assertArrayEquals(new String[] {}, KilnMain.withImplicitBuild(new String[] {}, "1"));
    }

    @Test
    void outsideAnExecutorContainerFlagsFirstMeanWhatTheyAlwaysMeant() {
        assertArrayEquals(new String[] {"--dockerfile=Dockerfile"}, KilnMain.withImplicitBuild(new String[] {"--dockerfile=Dockerfile"}, null));
        assertArrayEquals(new String[] {"--dockerfile=Dockerfile"}, KilnMain.withImplicitBuild(new String[] {"--dockerfile=Dockerfile"}, "0"));
    }
}
