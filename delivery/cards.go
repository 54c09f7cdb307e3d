package delivery

import (
	"fmt"
	"strconv"
	"strings"
)

// maxLinks is how many portal links a chat message carries as buttons.
const maxLinks = 3

// maxShownIDs is how many evidence ids a chat message lists; the rest are counted.
const maxShownIDs = 5

// fact is one labelled value of a chat message.
type fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// facts are what a person triaging the finding reads, most telling first; empty ones are left
// out. Teams shows them all; Slack shows up to ten.
func facts(f *Finding) []fact {
	seen := f.FirstSeen.UTC().Format(wireTime)
	if !f.LastSeen.Equal(f.FirstSeen) {
		seen += " to " + f.LastSeen.UTC().Format(wireTime)
	}
	all := []fact{
		{"Severity", severityLabel(f)},
		{"Why now", reasonLabel(f)},
		{"User", f.Key.Entities.User},
		{"IP address", f.Key.Entities.IP},
		{"App", f.Key.Entities.App},
		{"Object", f.Key.Entities.Object},
		{"Techniques", strings.Join(f.Techniques, ", ")},
		{"Seen", seen},
		{"Evidence", evidenceLabel(f)},
		{"Tenant", f.Key.Tenant},
		{"Portal", portalNote(f)},
		{"Status", string(f.Status)},
		{"Finding", f.ID + " (notification " + strconv.Itoa(f.Notification) + ")"},
	}
	kept := all[:0]
	for _, x := range all {
		if x.Value != "" {
			kept = append(kept, x)
		}
	}
	return kept
}

func severityLabel(f *Finding) string {
	s := strings.ToUpper(string(f.Severity[:1])) + string(f.Severity[1:])
	if f.PreviousSeverity != "" && f.PreviousSeverity != f.Severity {
		s += " (was " + string(f.PreviousSeverity) + ")"
	}
	return s
}

func reasonLabel(f *Finding) string {
	switch f.Reason {
	case ReasonSeverityRose:
		return "severity rose"
	case ReasonCameBack:
		return "came back after it was resolved"
	}
	return "new finding"
}

func evidenceLabel(f *Finding) string {
	n := len(f.EvidenceIDs)
	s := strconv.Itoa(n) + " activities"
	if n == 1 {
		s = "1 activity"
	}
	if f.EvidencePruned {
		return s + " (pruned from the warehouse)"
	}
	shown := f.EvidenceIDs[:min(n, maxShownIDs)]
	if n > 0 {
		s += ": " + strings.Join(shown, ", ")
	}
	if n > len(shown) {
		s += fmt.Sprintf(" and %d more", n-len(shown))
	}
	return s
}

// portalNote is said only when there is no link to follow.
func portalNote(f *Finding) string {
	if len(f.PortalURLs) > 0 {
		return ""
	}
	if f.PortalNote != "" {
		return "no link: " + f.PortalNote
	}
	return "no link"
}

func linkTitle(i, n int) string {
	if n == 1 {
		return "Open the evidence in the portal"
	}
	return "Evidence " + strconv.Itoa(i+1) + " in the portal"
}

// The Adaptive Card that a Teams Workflows webhook ("When a Teams webhook request is received",
// then "Post card in a chat or channel") posts: Workflows take Adaptive Cards only, wrapped as a
// message with one attachment of content type application/vnd.microsoft.card.adaptive.
type teamsEnvelope struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"`
	Content     adaptiveCard `json:"content"`
}

type adaptiveCard struct {
	Schema       string            `json:"$schema"`
	Type         string            `json:"type"`
	Version      string            `json:"version"`
	FallbackText string            `json:"fallbackText"`
	Body         []any             `json:"body"`
	Actions      []cardAction      `json:"actions,omitempty"`
	MSTeams      map[string]string `json:"msteams"`
}

type textBlock struct {
	Type   string `json:"type"`
	Text   string `json:"text"`
	Size   string `json:"size,omitempty"`
	Weight string `json:"weight,omitempty"`
	Color  string `json:"color,omitempty"`
	Wrap   bool   `json:"wrap"`
}

type factSet struct {
	Type  string `json:"type"`
	Facts []fact `json:"facts"`
}

type cardAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// AdaptiveCardVersion is the schema version of the Teams card: 1.4 renders in every Teams
// client, desktop and mobile.
const AdaptiveCardVersion = "1.4"

// cardColor is the title's colour by severity (Adaptive Card colour names).
func cardColor(s Severity) string {
	switch s {
	case High:
		return "Attention"
	case Medium:
		return "Warning"
	case Low:
		return "Accent"
	}
	return "Default"
}

func teamsMessage(f *Finding) teamsEnvelope {
	card := adaptiveCard{
		Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard",
		Version: AdaptiveCardVersion, FallbackText: fallbackText(f),
		Body: []any{
			textBlock{Type: "TextBlock", Text: shorten(severityLabel(f)+": "+f.title(), 200),
				Size: "Large", Weight: "Bolder", Color: cardColor(f.Severity), Wrap: true},
			textBlock{Type: "TextBlock", Text: shorten(f.summary(), 2000), Wrap: true},
			factSet{Type: "FactSet", Facts: facts(f)},
		},
		MSTeams: map[string]string{"width": "Full"},
	}
	links := f.PortalURLs[:min(len(f.PortalURLs), maxLinks)]
	for i, u := range links {
		card.Actions = append(card.Actions, cardAction{Type: "Action.OpenUrl", Title: linkTitle(i, len(links)), URL: u})
	}
	return teamsEnvelope{Type: "message", Attachments: []teamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive", Content: card}}}
}

// fallbackText is the one line shown where a card or blocks cannot be (notifications, old
// clients).
func fallbackText(f *Finding) string {
	return shorten(fmt.Sprintf("[%s] %s (finding %s)", strings.ToUpper(string(f.Severity)), f.summary(), f.ID), 1000)
}

// A Slack incoming-webhook message: Block Kit blocks plus the text Slack shows in notifications.
type slackPayload struct {
	Text   string `json:"text"`
	Blocks []any  `json:"blocks"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []any       `json:"elements,omitempty"`
}

type slackButton struct {
	Type string    `json:"type"`
	Text slackText `json:"text"`
	URL  string    `json:"url"`
}

// Block Kit limits (api.slack.com/reference/block-kit/blocks): a header's text 150 characters,
// a section's text 3000, ten fields of 2000 each, a button's text 75 and URL 3000.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackFields     = 10
	slackFieldMax   = 2000
	slackButtonMax  = 75
	slackURLMax     = 3000
)

// slackEscape escapes the three characters Slack's mrkdwn treats as markup ("<!channel>" would
// ping everyone).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func slackMessage(f *Finding) slackPayload {
	blocks := []any{
		slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: shorten(severityLabel(f)+": "+f.title(), slackHeaderMax)}},
		slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: shorten(slackEscape(f.summary()), slackSectionMax)}},
	}
	var fields []slackText
	for _, x := range facts(f) {
		if x.Title == "Finding" || len(fields) == slackFields {
			continue
		}
		fields = append(fields, slackText{Type: "mrkdwn", Text: shorten("*"+x.Title+"*\n"+slackEscape(x.Value), slackFieldMax)})
	}
	blocks = append(blocks, slackBlock{Type: "section", Fields: fields})
	var buttons []any
	links := f.PortalURLs[:min(len(f.PortalURLs), maxLinks)]
	for i, u := range links {
		if len(u) > slackURLMax {
			continue
		}
		buttons = append(buttons, slackButton{Type: "button", Text: slackText{Type: "plain_text", Text: shorten(linkTitle(i, len(links)), slackButtonMax)}, URL: u})
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slackBlock{Type: "actions", Elements: buttons})
	}
	blocks = append(blocks, slackBlock{Type: "context", Elements: []any{slackText{Type: "mrkdwn",
		Text: slackEscape(fmt.Sprintf("finding %s · notification %d · mcasload", f.ID, f.Notification))}}})
	return slackPayload{Text: slackEscape(fallbackText(f)), Blocks: blocks}
}
