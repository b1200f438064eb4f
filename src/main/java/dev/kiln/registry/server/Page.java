package dev.kiln.registry.server;

import java.util.List;

/** One page of a lexically ordered listing; {@code next} is the {@code last} to ask for the next page, if any. */
public record Page(List<String> items, String next) {

    static Page of(List<String> sorted, Integer n, String last) {
        int start = 0;
        if (last != null && !last.isEmpty()) {
            while (start < sorted.size() && sorted.get(start).compareTo(last) <= 0) {
                start++;
            }
        }
        int end = n == null ? sorted.size() : Math.min(sorted.size(), start + n);
        List<String> items = List.copyOf(sorted.subList(start, Math.max(start, end)));
        String next = end < sorted.size() && n != null && !items.isEmpty() ? items.get(items.size() - 1) : null;
        return new Page(items, next);
    }
}
