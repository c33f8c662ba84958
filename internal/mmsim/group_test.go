package mmsim

import "testing"

// TestGroupChannel_Distinct: two groups that share their two smallest member ids are two
// channels, each with its own members; the same members again are the same channel.
func TestGroupChannel_Distinct(t *testing.T) {
	s := newStore()
	id := func(last byte) string { // ids equal but for their last character
		b := []byte("aaaaaaaaaaaaaaaaaaaaaaaaaa")
		b[25] = last
		return string(b)
	}
	a, b, c, d := id('a'), id('b'), id('c'), id('d')
	for _, u := range []string{a, b, c, d} {
		s.users[u] = &User{ID: u, Username: "user-" + u[25:]}
	}
	abc, created, err := s.groupChannel([]string{c, a, b})
	if err != nil || !created {
		t.Fatalf("group a, b, c: %v, created %v", err, created)
	}
	abd, created, err := s.groupChannel([]string{a, b, d})
	if err != nil || !created || abd.ID == abc.ID {
		t.Fatalf("group a, b, d = %s (created %v, %v); want a channel of its own, not %s", abd.ID, created, err, abc.ID)
	}
	if _, err := s.channelMember(abd.ID, d); err != nil {
		t.Errorf("d is not a member of its group: %v", err)
	}
	again, created, err := s.groupChannel([]string{b, c, a})
	if err != nil || created || again.ID != abc.ID {
		t.Errorf("group a, b, c again = %s (created %v, %v); want %s", again.ID, created, err, abc.ID)
	}
}
