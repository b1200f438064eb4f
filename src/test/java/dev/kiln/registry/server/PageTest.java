package dev.kiln.registry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

class PageTest {
    private static final List<String> ITEMS = List.of("a", "b", "c", "d", "e");

    @Test
    void pagesWalkTheWholeListOnce() {
        Page first = Page.of(ITEMS, 2, null);
        assertEquals(List.of("a", "b"), first.items());
        assertEquals("b", first.next());
        Page second = Page.of(ITEMS, 2, first.next());
        assertEquals(List.of("c", "d"), second.items());
        Page third = Page.of(ITEMS, 2, second.next());
        assertEquals(List.of("e"), third.items());
        assertNull(third.next());
    }

    @Test
    void lastNeedNotBeAnItem() {
        assertEquals(List.of("c", "d", "e"), Page.of(ITEMS, null, "bb").items());
    }

    @Test
    void zeroGivesAnEmptyPage() {
        assertEquals(List.of(), Page.of(ITEMS, 0, null).items());
        assertNull(Page.of(ITEMS, 0, null).next());
    }

    @Test
    void exactFitHasNoNext() {
        assertNull(Page.of(ITEMS, 5, null).next());
    }
}
