package mmsim

import (
	"github.com/loadtest/loadtest/mattermost"

	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

func (s *Server) createPost(w http.ResponseWriter, r *http.Request, me string) error {
	var body mattermost.NewPost
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if !isID(body.ChannelID) {
		return badBody("channel_id " + strconv.Quote(body.ChannelID) + " is not a 26-character id")
	}
	if body.RootID != "" && !isID(body.RootID) {
		return badBody("root_id " + strconv.Quote(body.RootID) + " is not a 26-character id")
	}
	if strings.TrimSpace(body.Message) == "" && len(body.FileIDs) == 0 {
		return badBody("a post needs a message or files")
	}
	p, members, err := s.st.createPost(me, postInput{ChannelID: body.ChannelID, RootID: body.RootID,
		Message: body.Message, FileIDs: body.FileIDs, Props: body.Props, Priority: priorityOf(body),
		PendingPostID: body.PendingPostID})
	if err != nil {
		return err
	}
	s.m.postsTotal.Inc()
	c, _ := s.st.channel(p.ChannelID) // exists: the post was just stored in it
	s.hub.send(event{name: "posted", channelID: p.ChannelID, data: map[string]any{
		"post": jsonString(p), "channel_type": c.Type, "channel_display_name": c.DisplayName,
		"channel_name": c.Name, "sender_name": "@" + s.usernameOf(me), "team_id": c.TeamID,
		"set_online": true,
	}}, members, "")
	writeJSON(w, http.StatusCreated, p)
	return nil
}

func priorityOf(p mattermost.NewPost) map[string]any {
	if p.Metadata == nil {
		return nil
	}
	return p.Metadata.Priority
}

func (s *Server) usernameOf(id string) string {
	u, err := s.st.user(id)
	if err != nil {
		return ""
	}
	return u.Username
}

// jsonString encodes v as Mattermost puts objects inside event data: as a JSON string.
func jsonString(v any) string {
	b, _ := json.Marshal(v) // model types always marshal
	return string(b)
}

func (s *Server) getPost(w http.ResponseWriter, r *http.Request, me string) error {
	p, err := s.readablePost(r, me)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// readablePost reads {post_id} and returns the post if the caller may read its channel.
func (s *Server) readablePost(r *http.Request, me string) (Post, error) {
	id, err := idParam(r, "post_id")
	if err != nil {
		return Post{}, err
	}
	p, err := s.st.post(id)
	if err != nil {
		return Post{}, err
	}
	c, err := s.st.channel(p.ChannelID)
	if err != nil {
		return Post{}, err
	}
	if !s.st.isChannelMember(c.ID, me) && !(c.Type == ChannelOpen && s.st.isTeamMember(c.TeamID, me)) {
		return Post{}, forbidden("you may not read channel " + c.ID)
	}
	return p, nil
}

func (s *Server) patchPost(w http.ResponseWriter, r *http.Request, me string) error {
	id, err := idParam(r, "post_id")
	if err != nil {
		return err
	}
	var body struct {
		Message *string        `json:"message"`
		Props   map[string]any `json:"props"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	p, members, err := s.st.patchPost(me, id, body.Message, body.Props)
	if err != nil {
		return err
	}
	s.hub.send(event{name: "post_edited", channelID: p.ChannelID, data: map[string]any{"post": jsonString(p)}}, members, "")
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) deletePost(w http.ResponseWriter, r *http.Request, me string) error {
	id, err := idParam(r, "post_id")
	if err != nil {
		return err
	}
	p, members, err := s.st.deletePost(me, id)
	if err != nil {
		return err
	}
	s.hub.send(event{name: "post_deleted", channelID: p.ChannelID, data: map[string]any{"post": jsonString(p), "delete_by": me}}, members, "")
	writeJSON(w, http.StatusOK, statusOK)
	return nil
}

func collapsed(r *http.Request) (bool, error) {
	return boolQuery(r, "collapsedThreads")
}

func (s *Server) getPostsForChannel(w http.ResponseWriter, r *http.Request, me string) error {
	c, err := s.visibleChannel(r, me)
	if err != nil {
		return err
	}
	q := postQuery{}
	if q.page, q.perPage, err = paging(r, 60, 200); err != nil {
		return err
	}
	if q.since, err = int64Query(r, "since"); err != nil {
		return err
	}
	if q.rootsOnly, err = collapsed(r); err != nil {
		return err
	}
	for name, dst := range map[string]*string{"before": &q.before, "after": &q.after} {
		if v := r.URL.Query().Get(name); v != "" {
			if !isID(v) {
				return badParam(name, strconv.Quote(v)+" is not a 26-character post id")
			}
			*dst = v
		}
	}
	list, err := s.st.channelPostsPage(me, c.ID, q)
	if err != nil {
		return err
	}
	if q.since == 0 && q.before == "" && q.after == "" {
		etagJSON(w, r, itoa(c.LastPostAt)+"."+itoa(s.st.postsChangedAt(c.ID))+"."+strconv.FormatBool(q.rootsOnly), list)
		return nil
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getPostsAroundUnread(w http.ResponseWriter, r *http.Request, me string) error {
	if _, err := selfParam(r, me); err != nil {
		return err
	}
	chID, err := idParam(r, "channel_id")
	if err != nil {
		return err
	}
	before, err := intQuery(r, "limit_before", 60, 0, 200)
	if err != nil {
		return err
	}
	after, err := intQuery(r, "limit_after", 60, 1, 200)
	if err != nil {
		return err
	}
	roots, err := collapsed(r)
	if err != nil {
		return err
	}
	list, err := s.st.postsAroundUnread(me, chID, before, after, roots)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getPostThread(w http.ResponseWriter, r *http.Request, me string) error {
	id, err := idParam(r, "post_id")
	if err != nil {
		return err
	}
	perPage, err := intQuery(r, "perPage", 0, 0, 1000)
	if err != nil {
		return err
	}
	from, err := int64Query(r, "fromCreateAt")
	if err != nil {
		return err
	}
	dir := r.URL.Query().Get("direction")
	if dir != "" && dir != "up" && dir != "down" {
		return badParam("direction", `must be "up" or "down", got `+strconv.Quote(dir))
	}
	if _, err := collapsed(r); err != nil {
		return err
	}
	list, err := s.st.thread(me, id, perPage, from, dir == "down")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getReactions(w http.ResponseWriter, r *http.Request, me string) error {
	p, err := s.readablePost(r, me)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.st.reactionsOf(p.ID))
	return nil
}

func (s *Server) saveReaction(w http.ResponseWriter, r *http.Request, me string) error {
	var body Reaction
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.UserID != me {
		return forbidden("user_id must be your own id")
	}
	if !isID(body.PostID) {
		return badBody("post_id " + strconv.Quote(body.PostID) + " is not a 26-character id")
	}
	re, chID, members, err := s.st.addReaction(me, body.PostID, body.EmojiName)
	if err != nil {
		return err
	}
	if members != nil {
		s.hub.send(event{name: "reaction_added", channelID: chID, data: map[string]any{"reaction": jsonString(re)}}, members, "")
	}
	writeJSON(w, http.StatusOK, re)
	return nil
}

func (s *Server) deleteReaction(w http.ResponseWriter, r *http.Request, me string) error {
	if _, err := selfParam(r, me); err != nil {
		return err
	}
	postID, err := idParam(r, "post_id")
	if err != nil {
		return err
	}
	re, chID, members, err := s.st.removeReaction(me, postID, r.PathValue("emoji_name"))
	if err != nil {
		return err
	}
	s.hub.send(event{name: "reaction_removed", channelID: chID, data: map[string]any{"reaction": jsonString(re)}}, members, "")
	writeJSON(w, http.StatusOK, statusOK)
	return nil
}

// ---- collapsed threads ----

func (s *Server) getThreadsForUser(w http.ResponseWriter, r *http.Request, me string) error {
	teamID, err := s.teamOfUser(r, me)
	if err != nil {
		return err
	}
	perPage, err := intQuery(r, "per_page", 25, 1, 200)
	if err != nil {
		return err
	}
	unread, err := boolQuery(r, "unread")
	if err != nil {
		return err
	}
	totals, err := boolQuery(r, "totalsOnly")
	if err != nil {
		return err
	}
	for _, name := range []string{"threadsOnly", "extended", "deleted"} {
		if _, err := boolQuery(r, name); err != nil {
			return err
		}
	}
	before := r.URL.Query().Get("before")
	if before != "" && !isID(before) {
		return badParam("before", strconv.Quote(before)+" is not a 26-character thread id")
	}
	writeJSON(w, http.StatusOK, s.st.userThreads(me, teamID, unread, totals, before, perPage))
	return nil
}

func (s *Server) getThreadForUser(w http.ResponseWriter, r *http.Request, me string) error {
	if _, err := s.teamOfUser(r, me); err != nil {
		return err
	}
	id, err := idParam(r, "thread_id")
	if err != nil {
		return err
	}
	t, err := s.st.userThread(me, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) updateThreadRead(w http.ResponseWriter, r *http.Request, me string) error {
	if _, err := s.teamOfUser(r, me); err != nil {
		return err
	}
	id, err := idParam(r, "thread_id")
	if err != nil {
		return err
	}
	ts, err := strconv.ParseInt(r.PathValue("timestamp"), 10, 64)
	if err != nil || ts < 0 {
		return badParam("timestamp", strconv.Quote(r.PathValue("timestamp"))+" is not a time in milliseconds")
	}
	t, err := s.st.markThreadRead(me, id, ts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) setFollowing(w http.ResponseWriter, r *http.Request, me string, on bool) error {
	if _, err := s.teamOfUser(r, me); err != nil {
		return err
	}
	id, err := idParam(r, "thread_id")
	if err != nil {
		return err
	}
	if err := s.st.setFollowing(me, id, on); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, statusOK)
	return nil
}

func (s *Server) followThread(w http.ResponseWriter, r *http.Request, me string) error {
	return s.setFollowing(w, r, me, true)
}

func (s *Server) unfollowThread(w http.ResponseWriter, r *http.Request, me string) error {
	return s.setFollowing(w, r, me, false)
}

func (s *Server) markAllThreadsRead(w http.ResponseWriter, r *http.Request, me string) error {
	if _, err := s.teamOfUser(r, me); err != nil {
		return err
	}
	s.st.markAllThreadsRead(me)
	writeJSON(w, http.StatusOK, statusOK)
	return nil
}

// ---- drafts ----

func (s *Server) upsertDraft(w http.ResponseWriter, r *http.Request, me string) error {
	var d Draft
	if err := decodeJSON(r, &d); err != nil {
		return err
	}
	if d.UserID != "" && d.UserID != me {
		return forbidden("user_id must be your own id")
	}
	if !isID(d.ChannelID) {
		return badBody("channel_id " + strconv.Quote(d.ChannelID) + " is not a 26-character id")
	}
	out, err := s.st.upsertDraft(me, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) getDrafts(w http.ResponseWriter, r *http.Request, me string) error {
	teamID, err := s.teamOfUser(r, me)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.st.draftsOf(me, teamID))
	return nil
}

func (s *Server) deleteDraft(w http.ResponseWriter, r *http.Request, me string) error {
	if _, err := selfParam(r, me); err != nil {
		return err
	}
	chID, err := idParam(r, "channel_id")
	if err != nil {
		return err
	}
	root := ""
	if r.PathValue("thread_id") != "" {
		if root, err = idParam(r, "thread_id"); err != nil {
			return err
		}
	}
	s.st.deleteDraft(me, chID, root) // deleting a missing draft is not an error, as in Mattermost
	writeJSON(w, http.StatusOK, statusOK)
	return nil
}

// ---- files ----

// uploadFile accepts a multipart upload (channel_id, then one or more "files" parts). The
// bytes are counted and discarded: mmsim keeps the file's metadata, not its content.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request, me string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return badBody("POST /files needs a multipart/form-data body")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return badBody("malformed multipart body: " + err.Error())
	}
	channelID := r.URL.Query().Get("channel_id")
	var infos []FileInfo
	var clientIDs []string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return wrapBodyErr(err)
		}
		switch part.FormName() {
		case "channel_id":
			b, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				return wrapBodyErr(err)
			}
			channelID = string(b)
		case "client_ids":
			b, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				return wrapBodyErr(err)
			}
			clientIDs = append(clientIDs, string(b))
		case "files":
			if !isID(channelID) {
				return badBody("channel_id must come before the files and be a 26-character id, got " + strconv.Quote(channelID))
			}
			n, err := io.Copy(io.Discard, part)
			if err != nil {
				return wrapBodyErr(err)
			}
			name := part.FileName()
			ct := part.Header.Get("Content-Type")
			w, h := 0, 0
			if strings.HasPrefix(ct, "image/") {
				w, h = 16, 16
			}
			fi, err := s.st.addFile(me, channelID, name, n, ct, w, h)
			if err != nil {
				return err
			}
			infos = append(infos, fi)
		}
	}
	if len(infos) == 0 {
		return badBody(`no "files" part in the upload`)
	}
	if clientIDs == nil {
		clientIDs = []string{}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"file_infos": infos, "client_ids": clientIDs})
	return nil
}

func wrapBodyErr(err error) error {
	if _, ok := err.(*http.MaxBytesError); ok {
		return err
	}
	return badBody("malformed multipart body: " + err.Error())
}

// getFileImage serves a thumbnail or preview: the same small PNG for every image file.
func (s *Server) getFileImage(w http.ResponseWriter, r *http.Request, me string) error {
	id, err := idParam(r, "file_id")
	if err != nil {
		return err
	}
	f, err := s.st.file(me, id)
	if err != nil {
		return err
	}
	if !f.HasPreviewImage {
		return &apiError{status: http.StatusBadRequest, id: "api.file.get_file_thumbnail.no_thumbnail.app_error",
			msg: "file " + id + " has no thumbnail or preview"}
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(profileImage) // the client may have gone
	return nil
}
