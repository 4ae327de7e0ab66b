package emulator

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubectl get and oc get ask for a meta.k8s.io Table (Accept:
// application/json;as=Table;v=v1;g=meta.k8s.io) and print its columns; without
// one they fall back to NAME and AGE. The columns and cells here are those of
// openshift-apiserver's image printers (pkg/image/printers/internalversion),
// which the server renders wide (priority-1 columns included, hidden by the
// client unless -o wide), and the rows carry the object as the apiserver's
// includeObject asks: PartialObjectMetadata by default (kubectl reads the
// namespace and labels from it), the whole object, or none.

// tableVersion returns the meta.k8s.io version of the Table the request asks
// for ("v1" or "v1beta1"), or "" when the first acceptable type is plain JSON.
func tableVersion(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch {
		case mt == "application/json" && params["as"] == "Table" && params["g"] == "meta.k8s.io" &&
			(params["v"] == "v1" || params["v"] == "v1beta1"):
			return params["v"]
		case (mt == "application/json" || mt == "*/*" || mt == "application/*") && params["as"] == "":
			return ""
		}
	}
	return ""
}

// tableColumns are the column definitions the server sends per kind.
var tableColumns = map[string][]metav1.TableColumnDefinition{
	"ImageStream": {
		{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		{Name: "Image Repository", Type: "string", Description: imagev1.ImageStreamStatus{}.SwaggerDoc()["dockerImageRepository"]},
		{Name: "Tags", Type: "string", Description: "Human readable list of tags."},
		{Name: "Updated", Type: "string", Description: "Last update time."},
	},
	"ImageStreamTag": {
		{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		{Name: "Image Reference", Type: "string", Description: imagev1.Image{}.SwaggerDoc()["dockerImageReference"]},
		{Name: "Updated", Type: "string", Description: "Last update time."},
		{Name: "Image Name", Type: "string", Priority: 1, Description: imagev1.ImageStreamTag{}.SwaggerDoc()["image"]},
	},
	"Image": {
		{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		{Name: "Image Reference", Type: "string", Description: imagev1.Image{}.SwaggerDoc()["dockerImageReference"]},
	},
}

// writeObject writes obj (an image stream, imagestreamtag or Image, or a list
// of them) as JSON, or as a Table when the request asks for one.
func (e *Emulator) writeObject(w http.ResponseWriter, r *http.Request, obj any) {
	v := tableVersion(r)
	if v == "" {
		writeJSON(w, http.StatusOK, obj)
		return
	}
	include := metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject"))
	if include == "" {
		include = metav1.IncludeMetadata
	}
	now := e.now()
	t := metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/" + v}}
	add := func(m metav1.ObjectMeta, whole any, cells ...any) {
		row := metav1.TableRow{Cells: cells}
		var embed any
		switch include {
		case metav1.IncludeMetadata:
			embed = metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/" + v}, ObjectMeta: m}
		case metav1.IncludeObject:
			embed = whole
		}
		if embed != nil {
			row.Object.Raw, _ = json.Marshal(embed)
		}
		t.Rows = append(t.Rows, row)
	}
	addStream := func(s imagev1.ImageStream) {
		s.TypeMeta = metav1.TypeMeta{Kind: "ImageStream", APIVersion: "image.openshift.io/v1"}
		add(s.ObjectMeta, s, s.Name, streamRepository(&s), tagsUpToWidth(s.Status.Tags, 40), streamUpdated(&s, now))
	}
	addTag := func(ist imagev1.ImageStreamTag) {
		ist.TypeMeta = metav1.TypeMeta{Kind: "ImageStreamTag", APIVersion: "image.openshift.io/v1"}
		add(ist.ObjectMeta, ist, ist.Name, ist.Image.DockerImageReference, ago(now, ist.CreationTimestamp.Time), ist.Image.Name)
	}
	switch o := obj.(type) {
	case *imagev1.ImageStream:
		t.ColumnDefinitions = tableColumns["ImageStream"]
		t.ResourceVersion = o.ResourceVersion
		addStream(*o)
	case *imagev1.ImageStreamList:
		t.ColumnDefinitions = tableColumns["ImageStream"]
		t.ResourceVersion = o.ResourceVersion
		for _, s := range o.Items {
			addStream(s)
		}
	case *imagev1.ImageStreamTag:
		t.ColumnDefinitions = tableColumns["ImageStreamTag"]
		t.ResourceVersion = o.ResourceVersion
		addTag(*o)
	case *imagev1.ImageStreamTagList:
		t.ColumnDefinitions = tableColumns["ImageStreamTag"]
		t.ResourceVersion = o.ResourceVersion
		for _, ist := range o.Items {
			addTag(ist)
		}
	case *imagev1.Image:
		t.ColumnDefinitions = tableColumns["Image"]
		t.ResourceVersion = o.ResourceVersion
		img := *o
		img.TypeMeta = metav1.TypeMeta{Kind: "Image", APIVersion: "image.openshift.io/v1"}
		add(img.ObjectMeta, img, img.Name, img.DockerImageReference)
	default:
		writeJSON(w, http.StatusOK, obj)
		return
	}
	if t.Rows == nil {
		t.Rows = []metav1.TableRow{}
	}
	writeJSON(w, http.StatusOK, &t)
}

// streamRepository is the printer's IMAGE REPOSITORY: the public repository
// when the registry has a route, else status (or spec) dockerImageRepository.
func streamRepository(s *imagev1.ImageStream) string {
	repo := s.Spec.DockerImageRepository
	if repo == "" {
		repo = s.Status.DockerImageRepository
	}
	if s.Status.PublicDockerImageRepository != "" {
		repo = s.Status.PublicDockerImageRepository
	}
	return repo
}

// streamUpdated is the printer's UPDATED: how long ago the newest tag event
// was created, empty for a stream without one.
func streamUpdated(s *imagev1.ImageStream, now time.Time) string {
	var latest time.Time
	for _, t := range s.Status.Tags {
		if len(t.Items) > 0 && t.Items[0].Created.After(latest) {
			latest = t.Items[0].Created.Time
		}
	}
	if latest.IsZero() {
		return ""
	}
	return ago(now, latest)
}

// tagsUpToWidth is the printer's TAGS: the tags newest first (by their
// latest event, to the second; then by name), as many as fit in width
// characters (at least one, a little more when that evens the edge), and
// "+ N more..." for the rest.
func tagsUpToWidth(status []imagev1.NamedTagEventList, width int) string {
	type named struct {
		name    string
		created time.Time
	}
	all := make([]named, len(status))
	for i, t := range status {
		all[i].name = t.Tag
		if len(t.Items) > 0 {
			all[i].created = t.Items[0].Created.Round(time.Second)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].created.Equal(all[j].created) {
			return all[i].created.After(all[j].created)
		}
		return all[i].name < all[j].name
	})
	tags := make([]string, len(all))
	for i, t := range all {
		tags[i] = t.name
	}
	remaining, margin := width, width/4
	for i, tag := range tags {
		remaining -= len(tag) + 1
		if remaining >= 0 {
			continue
		}
		if i == 0 {
			tags = tags[:1]
			break
		}
		if margin < remaining+len(tag) && margin >= -remaining {
			continue
		}
		tags = tags[:i]
		break
	}
	if hidden := len(all) - len(tags); hidden > 0 {
		return fmt.Sprintf("%s + %d more...", strings.Join(tags, ","), hidden)
	}
	return strings.Join(tags, ",")
}

// ago is the printer's relative time: "N seconds ago", "About a minute ago",
// in the words of docker/go-units' HumanDuration, which the server uses.
func ago(now, t time.Time) string {
	return humanDuration(now.Sub(t)) + " ago"
}

func humanDuration(d time.Duration) string {
	seconds := int(d.Seconds())
	minutes := int(d.Minutes())
	hours := int(d.Hours() + 0.5)
	switch {
	case seconds < 1:
		return "Less than a second"
	case seconds == 1:
		return "1 second"
	case seconds < 60:
		return fmt.Sprintf("%d seconds", seconds)
	case minutes == 1:
		return "About a minute"
	case minutes < 60:
		return fmt.Sprintf("%d minutes", minutes)
	case hours == 1:
		return "About an hour"
	case hours < 48:
		return fmt.Sprintf("%d hours", hours)
	case hours < 24*7*2:
		return fmt.Sprintf("%d days", hours/24)
	case hours < 24*30*2:
		return fmt.Sprintf("%d weeks", hours/24/7)
	case hours < 24*365*2:
		return fmt.Sprintf("%d months", hours/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}
