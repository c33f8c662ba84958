package mmsim

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strconv"
	"strings"
)

// maxIDsPerRequest bounds the id lists of the POST /users/ids family, as Mattermost does.
const maxIDsPerRequest = 1000

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ string) error {
	var body struct {
		LoginID  string `json:"login_id"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.LoginID == "" || body.Password == "" {
		return badBody("login_id and password are required")
	}
	u, tok, err := s.st.login(body.LoginID, body.Password)
	if err != nil {
		return err
	}
	s.m.loginsTotal.Inc()
	w.Header().Set("Token", tok)
	http.SetCookie(w, &http.Cookie{Name: "MMAUTHTOKEN", Value: tok, Path: "/", HttpOnly: true})
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, me string) error {
	s.st.logout(tokenOf(r))
	writeJSON(w, http.StatusOK, statusOK)
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, _ string) error {
	var body struct {
		Username string `json:"username"`
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	u, err := s.st.createUser(body.Username, body.Email, body.Password, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *Server) getUsers(w http.ResponseWriter, r *http.Request, _ string) error {
	page, perPage, err := paging(r, 60, 200)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := userFilter{inTeam: q.Get("in_team"), inChannel: q.Get("in_channel"), notInChannel: q.Get("not_in_channel")}
	for name, v := range map[string]string{"in_team": f.inTeam, "in_channel": f.inChannel, "not_in_channel": f.notInChannel} {
		if v != "" && !isID(v) {
			return badParam(name, strconv.Quote(v)+" is not a 26-character id")
		}
	}
	writeJSON(w, http.StatusOK, s.st.listUsers(f, page, perPage))
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, me string) error {
	id, err := userParam(r, me)
	if err != nil {
		return err
	}
	u, err := s.st.user(id)
	if err != nil {
		return err
	}
	etagJSON(w, r, u.ID+"."+itoa(u.UpdateAt), u)
	return nil
}

// readIDs decodes a JSON list of ids (or usernames when ids is false) of bounded length.
func readIDs(r *http.Request, ids bool) ([]string, error) {
	var list []string
	if err := decodeJSON(r, &list); err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, badBody("the list in the request body is empty")
	}
	if len(list) > maxIDsPerRequest {
		return nil, badBody("the list has " + strconv.Itoa(len(list)) + " entries; at most 1000 are allowed")
	}
	if ids {
		for i, id := range list {
			if !isID(id) {
				return nil, badBody("entry " + strconv.Itoa(i) + " (" + strconv.Quote(id) + ") is not a 26-character id")
			}
		}
	}
	return list, nil
}

func (s *Server) getUsersByIDs(w http.ResponseWriter, r *http.Request, _ string) error {
	since, err := int64Query(r, "since")
	if err != nil {
		return err
	}
	ids, err := readIDs(r, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.st.usersByIDs(ids, since))
	return nil
}

// ownList serves a route that lists the caller's own objects: {user_id} must be the caller.
func ownList[T any](list func(userID string) []T) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, me string) error {
		id, err := selfParam(r, me)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, list(id))
		return nil
	}
}

// byList serves a route whose body is a JSON list of ids (or of names when ids is false).
func byList[T any](ids bool, lookup func([]string) []T) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		list, err := readIDs(r, ids)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, lookup(list))
		return nil
	}
}

func (s *Server) getUserStatus(w http.ResponseWriter, r *http.Request, me string) error {
	id, err := userParam(r, me)
	if err != nil {
		return err
	}
	sts := s.st.statusesByIDs([]string{id})
	if len(sts) == 0 {
		return fail(errNotFound, "app.user.missing_account.const", "user %q not found", id)
	}
	writeJSON(w, http.StatusOK, sts[0])
	return nil
}

func (s *Server) updateUserStatus(w http.ResponseWriter, r *http.Request, me string) error {
	id, err := selfParam(r, me)
	if err != nil {
		return err
	}
	var body Status
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.UserID != id {
		return badBody("user_id in the body must match the user in the URL")
	}
	switch body.Status {
	case "online", "away", "dnd", "offline":
	default:
		return badBody(`status must be one of "online", "away", "dnd", "offline"; got ` + strconv.Quote(body.Status))
	}
	st, changed, err := s.st.setStatus(id, body.Status, true)
	if err != nil {
		return err
	}
	if changed {
		s.broadcastStatus(st)
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) autocompleteUsers(w http.ResponseWriter, r *http.Request, _ string) error {
	q := r.URL.Query()
	limit, err := intQuery(r, "limit", 100, 1, 100)
	if err != nil {
		return err
	}
	teamID, channelID := q.Get("in_team"), q.Get("in_channel")
	if teamID != "" && !isID(teamID) {
		return badParam("in_team", strconv.Quote(teamID)+" is not a 26-character id")
	}
	if channelID != "" && !isID(channelID) {
		return badParam("in_channel", strconv.Quote(channelID)+" is not a 26-character id")
	}
	in, out := s.st.autocomplete(teamID, channelID, q.Get("name"), limit)
	writeJSON(w, http.StatusOK, map[string][]User{"users": in, "out_of_channel": out})
	return nil
}

func (s *Server) updatePreferences(w http.ResponseWriter, r *http.Request, me string) error {
	id, err := selfParam(r, me)
	if err != nil {
		return err
	}
	var prefs []Preference
	if err := decodeJSON(r, &prefs); err != nil {
		return err
	}
	if len(prefs) == 0 || len(prefs) > 100 {
		return badBody("between 1 and 100 preferences are required, got " + strconv.Itoa(len(prefs)))
	}
	if err := s.st.savePreferences(id, prefs); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, statusOK)
	return nil
}

// profileImage is the picture every user has: a small PNG, generated once.
var profileImage = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for x := range 16 {
		for y := range 16 {
			img.Set(x, y, color.RGBA{R: 0x1e, G: 0x32, B: 0x5c, A: 0xff})
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img) // encoding to memory cannot fail
	return b.Bytes()
}()

// getProfileImage serves the user's picture. Its ETag is the integer last_picture_update, as
// the real server sends it and as load-test clients check.
func (s *Server) getProfileImage(w http.ResponseWriter, r *http.Request, me string) error {
	id, err := userParam(r, me)
	if err != nil {
		return err
	}
	u, err := s.st.user(id)
	if err != nil {
		return err
	}
	etag := itoa(u.LastPictureUpdate)
	w.Header().Set("ETag", etag)
	if strings.Trim(r.Header.Get("If-None-Match"), `"`) == etag {
		w.WriteHeader(http.StatusNotModified) // as the real server's HandleEtag: the ETag alone
		return nil
	}
	w.Header().Set("Cache-Control", "max-age=86400, private") // a browser reuses it for a day
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(profileImage) // the client may have gone
	return nil
}
