package mmsim

import (
	"net/http"
	"strconv"
)

func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request, _ string) error {
	var body struct {
		Term           string `json:"term"`
		TeamID         string `json:"team_id"`
		InChannelID    string `json:"in_channel_id"`
		NotInChannelID string `json:"not_in_channel_id"`
		Limit          int    `json:"limit"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Term == "" {
		return badBody("term is required")
	}
	for name, v := range map[string]string{"team_id": body.TeamID, "in_channel_id": body.InChannelID, "not_in_channel_id": body.NotInChannelID} {
		if v != "" && !isID(v) {
			return badBody(name + " " + strconv.Quote(v) + " is not a 26-character id")
		}
	}
	if body.Limit <= 0 || body.Limit > 1000 {
		body.Limit = 100
	}
	writeJSON(w, http.StatusOK, s.st.searchUsers(body.Term, body.TeamID, body.InChannelID, body.NotInChannelID, body.Limit))
	return nil
}

func (s *Server) searchPosts(w http.ResponseWriter, r *http.Request, me string) error {
	teamID, err := s.memberTeam(r, me)
	if err != nil {
		return err
	}
	var body struct {
		Terms                  string `json:"terms"`
		IsOrSearch             bool   `json:"is_or_search"`
		TimeZoneOffset         int    `json:"time_zone_offset"`
		IncludeDeletedChannels bool   `json:"include_deleted_channels"`
		Page                   int    `json:"page"`
		PerPage                int    `json:"per_page"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Terms == "" {
		return badBody("terms is required")
	}
	if body.Page < 0 {
		return badBody("page must be >= 0, got " + strconv.Itoa(body.Page))
	}
	if body.PerPage <= 0 || body.PerPage > 200 {
		body.PerPage = 60
	}
	list, matches := s.st.searchPosts(me, teamID, parseSearch(body.Terms, body.IsOrSearch), body.Page, body.PerPage)
	writeJSON(w, http.StatusOK, map[string]any{"order": list.Order, "posts": list.Posts, "next_post_id": "",
		"prev_post_id": "", "has_next": false, "matches": matches})
	return nil
}

func (s *Server) searchChannels(w http.ResponseWriter, r *http.Request, me string) error {
	teamID, err := s.memberTeam(r, me)
	if err != nil {
		return err
	}
	var body struct {
		Term string `json:"term"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.st.searchChannels(teamID, body.Term))
	return nil
}

func (s *Server) searchGroupChannels(w http.ResponseWriter, r *http.Request, me string) error {
	var body struct {
		Term string `json:"term"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.Term == "" {
		return badBody("term is required")
	}
	writeJSON(w, http.StatusOK, s.st.searchGroupChannels(me, body.Term))
	return nil
}
