package controller

import (
	"fmt"
	"slices"
	"testing"

	"github.com/loadtest/loadtest/mattermost"
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
	newest := fmt.Sprint("p", maxStoredPosts+39) // seen again, as a view brings the post an event brought
	ps.add(storedPost{id: intern(newest), channel: ch, at: int64(1000 + maxStoredPosts + 39), deleted: true})
	if len(ps.posts) != maxStoredPosts || !ps.posts[maxStoredPosts-1].deleted {
		t.Errorf("the newest post seen again: %d stored, last %+v; want it updated in place", len(ps.posts), ps.posts[maxStoredPosts-1])
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
		pp.at(fmt.Sprint("u", i)).profile = true
	}
	if len(pp.all) != maxStoredUsers || pp.knows("u9") || !pp.knows("u10") || !pp.knows(fmt.Sprint("u", maxStoredUsers+9)) {
		t.Errorf("%d people; u9 known %v, u10 %v; want %d, the first 10 forgotten", len(pp.all),
			pp.knows("u9"), pp.knows("u10"), maxStoredUsers)
	}
	if pp.at("u10"); len(pp.all) != maxStoredUsers || !pp.knows("u10") {
		t.Error("asking for a known person added it again or forgot it")
	}
}

// TestPeople_Index: past peopleIndexFrom persons the set is found through its hash table,
// and it stays right through every eviction: after each of many additions (evicting the
// oldest past the bound, which moves entries back in the table) every person kept is found
// with what was recorded for it, and every person forgotten is not.
func TestPeople_Index(t *testing.T) {
	var pp people
	var order []string // ids in the order added; the last maxStoredUsers are kept
	for i := range 3 * maxStoredUsers {
		id := fmt.Sprintf("user%05d", i*7)
		p := pp.at(id)
		p.etag, p.hasETag = int64(i), true
		order = append(order, id)
		if i == peopleIndexFrom-2 && pp.slots != nil || i == peopleIndexFrom-1 && pp.slots == nil {
			t.Fatalf("after %d persons the table is %v; want it built at %d", i+1, pp.slots != nil, peopleIndexFrom)
		}
		if i%7 != 0 && i < 2*maxStoredUsers {
			continue // check all, often enough to see every phase of the ring
		}
		kept := order[max(0, len(order)-maxStoredUsers):]
		for k, id := range kept {
			p := pp.get(id)
			if want := int64(len(order) - len(kept) + k); p == nil || p.etag != want {
				t.Fatalf("after %d added, %s: %+v; want etag %d", len(order), id, p, want)
			}
		}
		for _, id := range order[:len(order)-len(kept)] {
			if pp.get(id) != nil {
				t.Fatalf("after %d added, %s, forgotten, is still found", len(order), id)
			}
		}
		used := 0
		for _, v := range pp.slots {
			if v != 0 {
				used++
			}
		}
		if pp.slots != nil && used != len(kept) {
			t.Fatalf("after %d added, %d slots used for %d persons", len(order), used, len(kept))
		}
		// Every entry is reachable: no free slot between its hash's slot and where it is.
		for at, v := range pp.slots {
			if v == 0 {
				continue
			}
			for s := peopleSlot(pp.ids[v-1].Value()); s != at; s = (s + 1) & (peopleSlots - 1) {
				if pp.slots[s] == 0 {
					t.Fatalf("after %d added, %s at slot %d is cut off from its hash's slot by free slot %d", len(order), pp.ids[v-1].Value(), at, s)
				}
			}
		}
	}
	if pp.get("stranger") != nil || pp.knows("stranger") {
		t.Error("a person never added is found")
	}
	pp.clear()
	if pp.get(order[len(order)-1]) != nil || pp.slots != nil {
		t.Error("clear kept a person or the table")
	}
}

// TestKeepPosts_Newest: a page longer than the store keeps its newest posts, not the oldest.
func TestKeepPosts_Newest(t *testing.T) {
	var s Simulative
	var page []*mattermost.Post // newest first, as Mattermost orders a page
	for i := range maxStoredPosts + 50 {
		page = append(page, &mattermost.Post{ID: fmt.Sprint("p", maxStoredPosts+50-i), ChannelID: "ch", CreateAt: int64(maxStoredPosts + 50 - i)})
	}
	s.keepPosts(page)
	if len(s.posts.posts) != maxStoredPosts {
		t.Fatalf("%d posts kept; want %d", len(s.posts.posts), maxStoredPosts)
	}
	if o, _ := s.posts.oldest(intern("ch")); o.at != 51 {
		t.Errorf("the oldest post kept was created at %d; want 51 (the newest %d of 300)", o.at, maxStoredPosts)
	}
	if i := s.posts.index(intern("p300")); i != maxStoredPosts-1 {
		t.Errorf("the newest post is stored at %d; want last (%d), so it is forgotten last", i, maxStoredPosts-1)
	}
	// A short page: its new posts go last, newest last; a known one is updated where it is.
	s.keepPosts([]*mattermost.Post{{ID: "p302", ChannelID: "ch", CreateAt: 302}, {ID: "p301", ChannelID: "ch", CreateAt: 301},
		{ID: "p300", ChannelID: "ch", CreateAt: 300, DeleteAt: 1}})
	if n := len(s.posts.posts); n != maxStoredPosts || s.posts.index(intern("p302")) != n-1 || s.posts.index(intern("p301")) != n-2 ||
		s.posts.index(intern("p300")) != n-3 || !s.posts.posts[n-3].deleted {
		t.Errorf("after a short page: %d stored, p302 at %d, p301 at %d, p300 at %d; want the new two last, newest last, and p300 updated",
			n, s.posts.index(intern("p302")), s.posts.index(intern("p301")), s.posts.index(intern("p300")))
	}
}

// TestPeople_FreeWraps: freeing a slot near the end of the table keeps reachable the
// entries probed past it, including one that wrapped to the start from its own slot there.
func TestPeople_FreeWraps(t *testing.T) {
	homed := func(slot int, not ...string) string { // an id whose hash's slot is slot
		for n := 0; ; n++ {
			if id := fmt.Sprint("u", n); peopleSlot(id) == slot && !slices.Contains(not, id) {
				return id
			}
		}
	}
	x, y, z := homed(peopleSlots-2), homed(peopleSlots-1), homed(0)
	w := homed(peopleSlots-1, y) // homed at the last slot too: wraps to the start
	for _, c := range []struct {
		name string
		ids  []string
		at   []int // slot of each id, as linear probing puts them
	}{
		{"an entry at its own slot after the wrap stays", []string{x, y, z}, []int{peopleSlots - 2, peopleSlots - 1, 0}},
		{"a wrapped entry moves back", []string{x, y, w, z}, []int{peopleSlots - 2, peopleSlots - 1, 0, 1}},
	} {
		pp := people{slots: make([]uint16, peopleSlots)}
		for k, id := range c.ids {
			pp.ids, pp.all = append(pp.ids, intern(id)), append(pp.all, person{etag: int64(k)})
			if _, s := pp.find(id); s != c.at[k] {
				t.Fatalf("%s: %s would go to slot %d; want %d", c.name, id, s, c.at[k])
			}
			pp.slots[c.at[k]] = uint16(k + 1)
		}
		pp.free(peopleSlots - 2) // x goes
		for k, id := range c.ids[1:] {
			if p := pp.get(id); p == nil || p.etag != int64(k+1) {
				t.Errorf("%s: after freeing x's slot, %s is %+v; want found", c.name, id, p)
			}
		}
	}
}
