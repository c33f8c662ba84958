package controller

import (
	"cmp"
	"hash/maphash"
	"math"
	"slices"
	"time"
	"unique"

	"github.com/loadtest/loadtest/mattermost"
)

// What a simulative user remembers, and its bounds. A warm user's store was most of its
// memory when it kept whole posts and channels, 200 posts for every channel it had opened
// (docs/benchmarks.md). It now keeps only the fields its actions read, with ids interned,
// within the caps of the reference's store (mattermost-load-test-ng's memstore, which
// stands for the webapp's): 250 posts, 500 users, 250 threads.
const (
	maxStoredPosts   = 250
	maxStoredUsers   = 500
	maxStoredThreads = 250
)

// ref is an interned id or name. Every user of an agent that remembers the same post,
// channel or user holds a pointer to one copy of its id, which the runtime frees when the
// last of them forgets it; two refs are equal when their strings are.
type ref = unique.Handle[string]

func intern(s string) ref { return unique.Make(s) }

// storedPost is what a user keeps of a post: what its actions pick posts by and send.
type storedPost struct {
	id, channel, user ref
	at                int64 // create_at, ms
	reply             bool  // it has a root
	deleted           bool  // delete_at set (a post a thread shows as deleted)
}

func storePost(p mattermost.Post) storedPost {
	return storedPost{id: intern(p.ID), channel: intern(p.ChannelID), user: intern(p.UserID), at: p.CreateAt,
		reply: p.RootID != "", deleted: p.DeleteAt != 0}
}

// postStore holds the posts a user saw, across channels, oldest stored first; past
// maxStoredPosts the oldest stored go first.
type postStore struct {
	posts  []storedPost
	newest int64 // at least the latest create_at stored: a post created after it is not stored
}

// add remembers ps (new ones at the end, known ones updated in place). A post created after
// every post stored (a "posted" event's, most often) cannot be one of them, so it is not
// looked for.
func (s *postStore) add(ps ...storedPost) {
	for _, p := range ps {
		if p.at <= s.newest {
			if i := s.index(p.id); i >= 0 {
				s.posts[i] = p
				continue
			}
		}
		s.posts = append(s.posts, p)
		s.newest = max(s.newest, p.at)
	}
	if n := len(s.posts) - maxStoredPosts; n > 0 {
		s.posts = slices.Delete(s.posts, 0, n)
	}
}

func (s *postStore) index(id ref) int {
	for i := range s.posts {
		if s.posts[i].id == id {
			return i
		}
	}
	return -1
}

// remove forgets a post, if remembered.
func (s *postStore) remove(id ref) {
	if i := s.index(id); i >= 0 {
		s.posts = slices.Delete(s.posts, i, i+1)
	}
}

// oldest returns the oldest post remembered of a channel.
func (s *postStore) oldest(ch ref) (storedPost, bool) {
	var o storedPost
	found := false
	for _, p := range s.posts {
		if p.channel == ch && (!found || p.at < o.at) {
			o, found = p, true
		}
	}
	return o, found
}

// pick returns a uniform draw among the posts keep accepts, with draw(n) returning an
// index in [0, n).
func (s *postStore) pick(keep func(storedPost) bool, draw func(int) int) (storedPost, bool) {
	n := 0
	for _, p := range s.posts {
		if keep(p) {
			n++
		}
	}
	if n == 0 {
		return storedPost{}, false
	}
	k := draw(n)
	for _, p := range s.posts {
		if keep(p) {
			if k == 0 {
				return p, true
			}
			k--
		}
	}
	panic("unreachable")
}

func (s *postStore) clear() { s.posts, s.newest = nil, 0 }

// person is what a user knows of another: whether it fetched the profile and the status,
// and the profile picture's ETag (Mattermost's is the picture's update time, an integer).
type person struct {
	etag    int64
	hasETag bool
	profile bool
	status  bool
}

// people is a bounded set of persons, the oldest added forgotten first past
// maxStoredUsers. Every post in view, every author of a view and every event's sender is
// looked up by its id as the server sent it, so a lookup neither interns the id nor scans
// the set: past peopleIndexFrom persons an open-addressing table of peopleSlots 2-byte
// slots (2 KB) finds them by a hash of the id. (A Go map of the same 500 would take about
// 16 KB a user.)
type people struct {
	ids   []ref
	all   []person // all[i] is ids[i]'s
	next  int      // where the next person goes once all is full
	slots []uint16 // 1 + the index in ids of the person whose id hashes there (or probes on), 0 when free; nil below peopleIndexFrom
}

const (
	peopleIndexFrom = 32   // persons a user knows before it indexes them; a scan of fewer is as cheap
	peopleSlots     = 1024 // a power of two, over twice maxStoredUsers: probes stay short
)

var peopleSeed = maphash.MakeSeed()

func peopleSlot(id string) int { return int(maphash.String(peopleSeed, id)) & (peopleSlots - 1) }

// find returns the index of the person with id (-1 if none) and, with the table, the slot
// it is in or the free slot where it would go.
func (ps *people) find(id string) (i, slot int) {
	if ps.slots == nil {
		for i, r := range ps.ids {
			if r.Value() == id {
				return i, -1
			}
		}
		return -1, -1
	}
	for s := peopleSlot(id); ; s = (s + 1) & (peopleSlots - 1) {
		v := ps.slots[s]
		if v == 0 {
			return -1, s
		}
		if ps.ids[v-1].Value() == id {
			return int(v - 1), s
		}
	}
}

// free empties slot, moving back the entries after it that probed past it (deletion
// from a linearly probed table without tombstones).
func (ps *people) free(slot int) {
	for {
		ps.slots[slot] = 0
		j := slot
		for {
			j = (j + 1) & (peopleSlots - 1)
			v := ps.slots[j]
			if v == 0 {
				return
			}
			home := peopleSlot(ps.ids[v-1].Value())
			// The entry at j may move to slot unless its home lies cyclically in (slot, j].
			if (slot < j && slot < home && home <= j) || (slot > j && (home > slot || home <= j)) {
				continue
			}
			ps.slots[slot] = v
			slot = j
			break
		}
	}
}

// get returns the person with id, or nil.
func (ps *people) get(id string) *person {
	if i, _ := ps.find(id); i >= 0 {
		return &ps.all[i]
	}
	return nil
}

// at returns the person with id, adding it (and forgetting the oldest past the bound).
func (ps *people) at(id string) *person {
	i, slot := ps.find(id)
	if i >= 0 {
		return &ps.all[i]
	}
	if len(ps.all) < maxStoredUsers {
		i = len(ps.all)
		ps.ids, ps.all = append(ps.ids, intern(id)), append(ps.all, person{})
		if len(ps.ids) == peopleIndexFrom {
			ps.slots = make([]uint16, peopleSlots)
			for k, r := range ps.ids {
				_, s := ps.find(r.Value())
				ps.slots[s] = uint16(k + 1)
			}
		} else if slot >= 0 {
			ps.slots[slot] = uint16(i + 1)
		}
		return &ps.all[i]
	}
	i = ps.next
	ps.next = (ps.next + 1) % maxStoredUsers
	_, old := ps.find(ps.ids[i].Value())
	ps.free(old)
	ps.ids[i], ps.all[i] = intern(id), person{}
	_, slot = ps.find(id) // freeing may have moved the free slot found before
	ps.slots[slot] = uint16(i + 1)
	return &ps.all[i]
}

func (ps *people) knows(id string) bool {
	p := ps.get(id)
	return p != nil && p.profile
}

func (ps *people) clear() { ps.ids, ps.all, ps.next, ps.slots = nil, nil, 0, nil }

// channel is what a user keeps of a channel it is in.
type channel struct {
	name     ref
	typ      string // mattermost.ChannelOpen and the others
	deleted  bool
	viewedAt int64 // when the user last viewed it (ms); 0: never
}

func storeChannel(c mattermost.Channel) channel {
	return channel{name: intern(c.Name), typ: c.Type, deleted: c.DeleteAt != 0}
}

func (c channel) team() bool {
	return c.typ == mattermost.ChannelOpen || c.typ == mattermost.ChannelPrivate
}

// maxCachedImages bounds a user's browser cache of profile pictures. A browser keeps a
// picture for as long as the answer's Cache-Control allows (Mattermost's: a day) in a disk
// cache of many megabytes; the bound is the agent's memory (8 bytes a picture, 8 KB a user
// at most), high enough that the authors a user sees in a day fit in it on most instances.
// Past it the picture that goes stale first goes first.
const maxCachedImages = 1000

// imageSeed keys the cache: a picture is known by a 32-bit hash of its user's id. Two of a
// user's thousand pictures share a hash with a chance of about 1 in 4 million; a picture
// then goes unasked for while the other is fresh, no worse.
var imageSeed = maphash.MakeSeed()

func imageKey(userID string) uint32 { return uint32(maphash.String(imageSeed, userID)) }

// cachedImage is a profile picture in a user's browser cache.
type cachedImage struct {
	key   uint32 // imageKey of the picture's user
	until uint32 // fresh until then (Unix seconds)
}

// imageCache is a user's browser cache of profile pictures, sorted by key. The webapp
// shows a picture by URL (its version in the query), so the browser asks the server again
// only once the cached answer is stale, and with its ETag then.
type imageCache struct {
	all    []cachedImage
	maxAge uint32 // seconds, the last Cache-Control max-age: what a 304 without one renews for
}

func (c *imageCache) find(key uint32) (int, bool) {
	return slices.BinarySearchFunc(c.all, key, func(e cachedImage, k uint32) int { return cmp.Compare(e.key, k) })
}

// fresh says whether the picture can be shown from the cache at now (Unix seconds).
func (c *imageCache) fresh(key, now uint32) bool {
	i, ok := c.find(key)
	return ok && now < c.all[i].until
}

// answered records the server's answer about a picture at now: an answer with
// Cache-Control stores the picture for its max-age (none: it is not kept); a 304 without
// one (Mattermost's) makes the stored picture fresh again for the max-age last given.
func (c *imageCache) answered(key, now uint32, img mattermost.ProfileImage) {
	i, ok := c.find(key)
	age := c.maxAge
	if img.HasMaxAge {
		age = uint32(min(img.MaxAge/time.Second, math.MaxUint32/2))
		c.maxAge = age
	} else if !ok || !img.NotModified {
		return
	}
	switch {
	case age == 0 && ok:
		c.all = slices.Delete(c.all, i, i+1)
	case age == 0:
	case ok:
		c.all[i].until = now + age
	default:
		if len(c.all) >= maxCachedImages {
			first := 0
			for j := range c.all {
				if c.all[j].until < c.all[first].until {
					first = j
				}
			}
			c.all = slices.Delete(c.all, first, first+1)
			i, _ = c.find(key)
		}
		c.all = slices.Insert(c.all, i, cachedImage{key: key, until: now + age})
	}
}
