package controller

import (
	"fmt"
	"testing"
)

// TestStore_Bounds: the posts and people a user remembers stay within the reference's caps
// however many it sees, the oldest stored going first, and a post seen again is updated in
// place, not stored twice.
func TestStore_Bounds(t *testing.T) {
	var ps postStore
	ch := intern("ch")
	for i := range maxStoredPosts + 40 {
		ps.add(storedPost{id: intern(fmt.Sprint("p", i)), channel: ch, at: int64(1000 + i)})
	}
	if len(ps.posts) != maxStoredPosts || ps.index(intern("p39")) >= 0 || ps.index(intern("p40")) != 0 {
		t.Fatalf("%d posts stored, p39 at %d, p40 at %d; want %d, the first 40 forgotten", len(ps.posts),
			ps.index(intern("p39")), ps.index(intern("p40")), maxStoredPosts)
	}
	ps.add(storedPost{id: intern("p40"), channel: ch, at: 1040, deleted: true})
	if len(ps.posts) != maxStoredPosts || !ps.posts[0].deleted {
		t.Errorf("a post seen again: %d stored, first %+v; want it updated in place", len(ps.posts), ps.posts[0])
	}
	if o, ok := ps.oldest(ch); !ok || o.id != intern("p40") {
		t.Errorf("oldest of the channel %v %v; want p40", o.id.Value(), ok)
	}
	if _, ok := ps.oldest(intern("other")); ok {
		t.Error("a channel with no post stored has an oldest post")
	}
	ps.remove(intern("p40"))
	if ps.index(intern("p40")) >= 0 || len(ps.posts) != maxStoredPosts-1 {
		t.Errorf("after remove: p40 at %d, %d stored", ps.index(intern("p40")), len(ps.posts))
	}
	// pick draws among the accepted posts only, each by its index.
	even := func(p storedPost) bool { return p.at%2 == 0 }
	seen := map[string]bool{}
	for k := range 200 {
		p, ok := ps.pick(even, func(n int) int { return k % n })
		if !ok || !even(p) {
			t.Fatalf("pick gave %+v, %v; want an accepted post", p, ok)
		}
		seen[p.id.Value()] = true
	}
	if len(seen) != (maxStoredPosts-1)/2 {
		t.Errorf("picks reached %d posts; want every one of the %d accepted", len(seen), (maxStoredPosts-1)/2)
	}
	if _, ok := ps.pick(func(storedPost) bool { return false }, nil); ok {
		t.Error("pick found a post none is accepted")
	}

	var pp people
	for i := range maxStoredUsers + 10 {
		pp.at(intern(fmt.Sprint("u", i))).profile = true
	}
	if len(pp.all) != maxStoredUsers || pp.knows(intern("u9")) || !pp.knows(intern("u10")) || !pp.knows(intern(fmt.Sprint("u", maxStoredUsers+9))) {
		t.Errorf("%d people; u9 known %v, u10 %v; want %d, the first 10 forgotten", len(pp.all),
			pp.knows(intern("u9")), pp.knows(intern("u10")), maxStoredUsers)
	}
	if pp.at(intern("u10")); len(pp.all) != maxStoredUsers || !pp.knows(intern("u10")) {
		t.Error("asking for a known person added it again or forgot it")
	}
}
